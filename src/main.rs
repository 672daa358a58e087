//! Entry point: parse the command line, load configuration, run a subcommand.
#![forbid(unsafe_code)]

use clap::Parser;
use sfa::{
    cli::{Cli, Command, PluginsAction},
    config::Config,
};

/// See `Cargo.toml`: faster than glibc malloc here, and less fragmentation;
/// metered, so that a company script is stopped once it builds too much data
/// (see `plugins::engine`).
#[global_allocator]
static ALLOCATOR: alloc_meter::Metered<mimalloc::MiMalloc> = alloc_meter::Metered(mimalloc::MiMalloc);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Logs go to stderr, so that a command's output (`company list --json`)
    // stays clean on stdout; colours only on a terminal.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let result = match Config::load(cli.config.as_deref()) {
        Err(e) => Err(format!("configuration: {e}")),
        Ok(config) => match cli.command.unwrap_or(Command::Serve { demo: false }) {
            Command::Serve { demo } => sfa::server::serve(config, demo).await,
            Command::Migrate => sfa::server::migrate(&config).await,
            Command::Company { action } => sfa::server::company(&config, action).await,
            Command::Member { action } => sfa::server::member(&config, action).await,
            Command::SeedDemo {
                seed,
                customers,
                months,
            } => sfa::server::seed_demo(&config, seed, sfa::seed::DemoSize { customers, months }).await,
            Command::Bench { action } => sfa::server::bench(&config, cli.config.clone(), action).await,
            Command::Reliability { action } => sfa::server::reliability(&config, cli.config.clone(), action).await,
            Command::Import {
                kind,
                file,
                company,
                as_admin,
                format,
                dry_run,
                skip_bad_rows,
                batch_rows,
            } => {
                let job = sfa::server::ImportJob {
                    kind,
                    file,
                    company,
                    as_admin,
                    format,
                    options: sfa::service::import::Options { dry_run, skip_bad_rows },
                    batch_rows,
                };
                sfa::server::import(&config, job).await
            }
            Command::ExportSchema { file } => sfa::server::export_schema(file.as_deref()),
            Command::Plugins {
                action: PluginsAction::Check { bench },
            }
            | Command::CheckPlugins { bench } => sfa::server::check_plugins(&config, bench),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
