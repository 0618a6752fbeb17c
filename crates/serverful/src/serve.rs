//! `serverful serve`: the long-running server. It comes back with every stack the data
//! folder records, at its current version, and takes deploys through the admin API.

use std::process::ExitCode;
use std::sync::Arc;

use serverful_cli::ServeArgs;
use serverful_platform::{Action, Layout, Outcome};

use crate::server::{self, ServerSettings};

/// `aws` is the tokio runtime the AWS endpoint is served on (see `crate::main`).
pub(crate) async fn run(args: ServeArgs, aws: tokio::runtime::Handle) -> anyhow::Result<ExitCode> {
    if let Some(backup) = &args.restore {
        // A fresh data folder from the backup, before anything opens it.
        let summary = crate::backup::restore_into(backup, &args.data)?;
        println!(
            "Restored {} into {} (point in time {}, Serverful {})",
            backup.display(),
            args.data.display(),
            summary.manifest.created_at,
            summary.manifest.serverful_version
        );
    }
    let started = server::start(ServerSettings {
        data_dir: args.data.clone(),
        store: args.store.clone(),
        host: args.host,
        port: args.port,
        aws_port: args.aws_port,
        admin_host: args.admin_host,
        admin_port: args.admin_port,
        domain: args.domain.clone(),
        region: args.region.clone(),
        layout: Layout::Serve,
        code_versions: serverful_platform::CodeVersions::Pinned,
        sandbox: args.sandbox,
        network: args.network,
        max_concurrency: args.max_concurrency,
        max_queued: args.max_queued,
        idle_timeout: args.idle_timeout,
        log_retention: crate::logs::retention(&args.logs),
        records: crate::invocations::settings(&args.records),
        aws,
        metrics: args.metrics,
    })
    .await;
    let server = match started {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "serverful {} serving {}",
        env!("CARGO_PKG_VERSION"),
        args.data.display()
    );
    println!("{}", server.sandbox_line);
    println!("{}", server.store_line);
    server.print_endpoints();
    let progress = Arc::new(crate::builds::TerminalProgress::new());
    let failures = server.platform.restore(progress.clone()).await;
    progress.finish();
    serverful_platform::bucket_events::redeliver(&server.platform);
    // In a cluster, deploys through other nodes are followed from now on.
    if let Some(shared) = server.platform.config().shared_versions.clone() {
        serverful_platform::cluster_versions::follow(&server.platform, shared);
    }
    for failure in &failures {
        eprintln!("error: {}", failure.message);
    }
    let listed = server
        .platform
        .handle(Action::List, Arc::new(serverful_platform::Quiet))
        .await;
    match listed {
        Ok(Outcome::Stacks { stacks, .. }) if !stacks.is_empty() => {
            println!("Stacks:");
            for stack in &stacks {
                println!(
                    "  {} version {} ({})",
                    stack.name, stack.version, stack.source
                );
                for url in &stack.urls {
                    println!("    {} {}", url.api, url.url);
                }
                for line in crate::schedules::lines(&server.platform, &stack.name, "    schedule ")
                {
                    println!("{line}");
                }
            }
        }
        _ => println!(
            "No stacks yet: deploy one with `serverful deploy DIR --stack NAME --endpoint {}`",
            server.admin_url
        ),
    }
    println!("Ready on {} (Ctrl-C to stop)", server.base_url);
    if let Err(error) = server.serve().await {
        eprintln!("error: {error:#}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
