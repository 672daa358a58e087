//! Command line: `serve` (default), `migrate`, `seed-demo`, `export-schema`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Sales-force-automation GraphQL server.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// TOML configuration file (default: `sfa.toml` when present).
    #[arg(long, global = true, env = "SFA_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (creates and migrates the database first).
    Serve {
        /// Create the demo company first if the database has none.
        #[arg(long)]
        demo: bool,
    },
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Create the demo company (migrating first).
    SeedDemo {
        /// Seed of the generator: the same seed gives the same company.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Number of customers.
        #[arg(long, default_value_t = 2000)]
        customers: usize,
        /// Months of history.
        #[arg(long, default_value_t = 12)]
        months: u32,
    },
    /// Plugin sets: `plugins check [--bench N]`.
    Plugins {
        /// What to do with them.
        #[command(subcommand)]
        action: PluginsAction,
    },
    /// Same as `plugins check`.
    #[command(hide = true)]
    CheckPlugins {
        /// Also time N energy scorings (and N/10 KPI rows) with each set and print the rates.
        #[arg(long)]
        bench: Option<u64>,
    },
    /// The benchmark suite: `bench generate`, `bench analytics`.
    Bench {
        /// What to do.
        #[command(subcommand)]
        action: BenchAction,
    },
    /// Write the GraphQL SDL (to stdout, or to FILE).
    ExportSchema {
        /// Output file, e.g. `schema.graphql`.
        file: Option<PathBuf>,
    },
}

/// What `bench` does.
#[derive(Debug, Subcommand)]
pub enum BenchAction {
    /// Generate the benchmark company in the configured database (use a
    /// fresh one): deterministic from the seed.
    Generate {
        /// S (CI), M or L.
        #[arg(long, default_value = "M")]
        size: String,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Override the size's number of deals.
        #[arg(long)]
        deals: Option<usize>,
    },
    /// Time the manager's views against hand-written SQL for the same figures.
    Analytics {
        /// Timed runs per view and side.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// What `plugins` does.
#[derive(Debug, Subcommand)]
pub enum PluginsAction {
    /// Compile every plugin set under the plugins folder, run every KPI
    /// formula once, and report, without starting the server.
    Check {
        /// Also time N energy scorings (and N/10 KPI rows) with each set and print the rates.
        #[arg(long)]
        bench: Option<u64>,
    },
}
