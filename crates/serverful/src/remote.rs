//! `deploy`, `rollback`, `delete` and `ls`: clients of a running server's admin API
//! (`serverful up` or `serve`). Progress goes to stderr (a bar on a terminal, phase lines
//! otherwise), the result to stdout (`--json` for machines); a failure exits 1 naming the
//! step that failed, and the server's stacks are as they were.

use std::process::ExitCode;

use serverful_admin::{Client, ClientError, ClientSource, Event};
use serverful_build as build;
use serverful_cli::{DeleteArgs, DeployArgs, EndpointArgs, LsArgs, RollbackArgs};
use serverful_platform::{Outcome, StackSummary};

/// The client for `--endpoint` and `--token`, or the message saying what is missing.
fn client(endpoint: &EndpointArgs) -> anyhow::Result<Client> {
    client_for(&endpoint.endpoint, endpoint.token.as_deref())
}

/// The client of the admin API at `endpoint` with `token`, or the message saying what is
/// missing.
pub(crate) fn client_for(endpoint: &str, token: Option<&str>) -> anyhow::Result<Client> {
    let Some(token) = token.filter(|token| !token.is_empty()) else {
        anyhow::bail!(
            "no admin token\nhint: pass --token or set SERVERFUL_ADMIN_TOKEN; the server printed where it keeps its token (DATA/admin-token)"
        );
    };
    Ok(Client::new(endpoint, token))
}

/// Draws progress events on stderr.
struct Progress {
    bar: indicatif::ProgressBar,
    interactive: bool,
}

impl Progress {
    fn new() -> Progress {
        let bar = indicatif::ProgressBar::new(0);
        let interactive = !bar.is_hidden();
        if interactive {
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {wide_msg} [{pos}/{len}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        Progress { bar, interactive }
    }

    fn event(&self, event: &Event) {
        match event {
            Event::Phase { phase } => {
                if self.interactive {
                    self.bar.set_message(phase.clone());
                } else {
                    eprintln!("{phase}");
                }
            }
            Event::Steps { n } => self.bar.inc_length(*n as u64),
            Event::Build { function, what } => {
                if self.interactive {
                    self.bar.set_message(format!("{function}: {what}"));
                } else {
                    eprintln!("building {function}: {what}");
                }
            }
            Event::Built { .. } => self.bar.inc(1),
            Event::Warning { message } => self.bar.suspend(|| eprintln!("warning: {message}")),
            Event::Done { .. } | Event::Failed { .. } => {}
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Runs a call with progress drawn, then prints its outcome.
async fn run_call<F, Fut>(json: bool, call: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Box<dyn FnMut(&Event) + Send>) -> Fut,
    Fut: std::future::Future<Output = Result<Outcome, ClientError>>,
{
    let progress = std::sync::Arc::new(Progress::new());
    let drawing = progress.clone();
    let result = call(Box::new(move |event: &Event| drawing.event(event))).await;
    progress.finish();
    match result {
        Ok(outcome) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                print_outcome(&outcome);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ClientError::Action(error)) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&error)?);
            }
            eprintln!("error: {} failed: {}", error.step, error.message);
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

pub(crate) async fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.endpoint)?;
    let spec = match build::SourceSpec::parse(&args.source) {
        Ok(spec) => spec,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let source = match spec {
        build::SourceSpec::Folder { dir, .. } => ClientSource::Folder(dir),
        build::SourceSpec::Zip { path } => ClientSource::Zip(path),
        build::SourceSpec::Git { url, reference } => ClientSource::Git { url, reference },
    };
    let parameters: Vec<(String, String)> =
        crate::app::parse_parameter_overrides(&args.parameter_overrides)?
            .into_iter()
            .collect();
    let stack = args.stack.clone();
    run_call(args.endpoint.json, |mut on_event| async move {
        client
            .deploy(
                &stack,
                &source,
                &parameters,
                args.delete_tables,
                &mut *on_event,
            )
            .await
    })
    .await
}

pub(crate) async fn rollback(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.endpoint)?;
    let stack = args.stack.clone();
    run_call(args.endpoint.json, |mut on_event| async move {
        client.rollback(&stack, args.to, &mut *on_event).await
    })
    .await
}

pub(crate) async fn delete(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.endpoint)?;
    let stack = args.stack.clone();
    run_call(args.endpoint.json, |mut on_event| async move {
        client
            .delete(&stack, args.delete_tables, &mut *on_event)
            .await
    })
    .await
}

pub(crate) async fn ls(args: LsArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.endpoint)?;
    run_call(args.endpoint.json, |mut on_event| async move {
        client.list(&mut *on_event).await
    })
    .await
}

fn print_outcome(outcome: &Outcome) {
    match outcome {
        Outcome::Deployed {
            stack,
            version,
            previous,
            summary,
            ..
        } => {
            match previous {
                Some(previous) => println!("Deployed {stack} version {version} (was {previous})"),
                None => println!("Deployed {stack} version {version}"),
            }
            print_summary(summary);
        }
        Outcome::NoChanges { stack, version } => {
            println!("No changes: {stack} stays at version {version}");
        }
        Outcome::RolledBack {
            stack,
            from,
            to,
            summary,
        } => {
            println!("Rolled back {stack} from version {from} to version {to}");
            print_summary(summary);
        }
        Outcome::Deleted {
            stack,
            tables_deleted,
            tables_kept,
            queues_deleted,
            queues_kept,
        } => {
            println!("Deleted {stack}");
            if !tables_deleted.is_empty() {
                println!("  tables deleted: {}", tables_deleted.join(", "));
            }
            if !tables_kept.is_empty() {
                println!(
                    "  tables kept: {} (delete them with --delete-tables)",
                    tables_kept.join(", ")
                );
            }
            if !queues_deleted.is_empty() {
                println!("  queues deleted: {}", queues_deleted.join(", "));
            }
            if !queues_kept.is_empty() {
                println!(
                    "  queues kept: {} (delete them with --delete-tables)",
                    queues_kept.join(", ")
                );
            }
        }
        Outcome::Stacks { stacks, nodes } => {
            if stacks.is_empty() {
                println!("No stacks");
            }
            for summary in stacks {
                print_summary(summary);
            }
            if !nodes.is_empty() {
                println!("Nodes ({}):", nodes.len());
                for node in nodes {
                    println!(
                        "  {}  {}  up since {}  seen {} ms ago{}",
                        node.name,
                        node.admin_url,
                        node.started_at,
                        node.silent_ms,
                        if node.this_node { "  (this node)" } else { "" }
                    );
                }
            }
        }
        // Printed by `serverful logs`, `backup` and `invoke`, which ask for them.
        Outcome::Logs { .. }
        | Outcome::BackedUp { .. }
        | Outcome::Invoked { .. }
        | Outcome::Described { .. }
        | Outcome::TableAnswered { .. }
        | Outcome::Messages { .. }
        | Outcome::Invocations { .. }
        | Outcome::InvocationRecord { .. }
        | Outcome::Replayed { .. } => {}
    }
}

fn print_summary(summary: &StackSummary) {
    println!(
        "{}  version {}  {}  deployed {}  from {}",
        summary.name, summary.version, summary.status, summary.deployed_at, summary.source
    );
    if summary.versions.len() > 1 {
        let versions: Vec<String> = summary.versions.iter().map(u64::to_string).collect();
        println!("  versions: {}", versions.join(", "));
    }
    for url in &summary.urls {
        println!("  {}: {}", url.api, url.url);
    }
    for function in &summary.functions {
        println!("  function: {function}");
    }
    for table in &summary.tables {
        println!("  table: {table}");
    }
    for (name, value) in &summary.outputs {
        println!("  output: {name} = {value}");
    }
    for schedule in &summary.schedules {
        println!("  schedule: {schedule}");
    }
    for key in &summary.api_keys {
        let disabled = if key.enabled { "" } else { " (disabled)" };
        println!(
            "  api key: {} {} (id {}): {}{disabled}",
            key.logical_id, key.name, key.id, key.value
        );
    }
}
