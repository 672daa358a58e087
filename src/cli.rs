//! Command line: `serve` (default), `migrate`, `company`, `member`, `import`,
//! `seed-demo`, `plugins`, `export-schema`, and the benchmark and reliability harnesses.

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
    /// The server's companies: `company create|list|disable|enable|delete`.
    Company {
        /// What to do.
        #[command(subcommand)]
        action: CompanyAction,
    },
    /// A member of a company: `member set-password`.
    Member {
        /// What to do.
        #[command(subcommand)]
        action: MemberAction,
    },
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
    /// Reliability harnesses against this binary started as the server on
    /// the configured database (which holds `sfa bench generate`'s company).
    Reliability {
        /// Which one.
        #[command(subcommand)]
        action: ReliabilityAction,
    },
    /// Import customers, contacts, products, sales records, touchpoints,
    /// deals or their stage history (CSV or JSON), matched by their codes.
    Import {
        /// customers, contacts, products, sales-records, touchpoints, deals, deal-stage-history,
        /// teams, members, targets, activities or tasks.
        kind: String,
        /// The file (`.json` is read as JSON, anything else as CSV).
        file: PathBuf,
        /// The company's slug.
        #[arg(long)]
        company: String,
        /// The admin the import is recorded as (default: the company's first active admin).
        #[arg(long = "as")]
        as_admin: Option<String>,
        /// `csv` or `json`, when the file name does not tell.
        #[arg(long)]
        format: Option<String>,
        /// Check and count; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the good rows of a file that has bad ones.
        #[arg(long)]
        skip_bad_rows: bool,
        /// Rows read, checked and written at a time (memory holds one batch).
        #[arg(long, default_value_t = crate::service::import::BATCH_ROWS)]
        batch_rows: usize,
    },
    /// Write the GraphQL SDL (to stdout, or to FILE).
    ExportSchema {
        /// Output file, e.g. `schema.graphql`.
        file: Option<PathBuf>,
    },
}

/// What `company` does.
#[derive(Debug, Subcommand)]
pub enum CompanyAction {
    /// Create a company and its first admin; prints the admin's one-time
    /// password (or reads one from stdin with `--password-stdin`) and how to log in.
    Create {
        /// The company's name.
        #[arg(long)]
        name: String,
        /// Its short handle (lower-case letters, digits, '-'): members log in with it.
        #[arg(long)]
        slug: String,
        /// The first admin's e-mail.
        #[arg(long)]
        admin_email: String,
        /// The first admin's name (default: the e-mail's local part).
        #[arg(long)]
        admin_name: Option<String>,
        /// IANA time zone: what "today" and "this month" mean for its figures.
        #[arg(long, default_value = crate::service::company::DEFAULT_TIME_ZONE)]
        time_zone: String,
        /// ISO 4217 currency of its amounts.
        #[arg(long, default_value = crate::service::company::DEFAULT_CURRENCY)]
        currency: String,
        /// A plugin set of `plugins/` (default: `default`).
        #[arg(long)]
        process: Option<String>,
        /// Read the admin's password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the companies with their members and state.
    List {
        /// As JSON lines, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Refuse every member of a company (logins, tokens, API keys) until it is enabled.
    Disable {
        /// The company's slug.
        slug: String,
    },
    /// Let a disabled company's members in again.
    Enable {
        /// The company's slug.
        slug: String,
    },
    /// Delete a company and every row it holds, in one transaction.
    Delete {
        /// The company's slug.
        slug: String,
        /// The slug again: nothing is deleted without it.
        #[arg(long)]
        confirm: Option<String>,
    },
}

/// What `member` does.
#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Set a member's password (a locked-out admin's way back in): prints a
    /// one-time password, or reads one from stdin with `--password-stdin`.
    /// The member is reactivated and signed out everywhere.
    SetPassword {
        /// The company's slug.
        #[arg(long)]
        company: String,
        /// The member's e-mail.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// What `reliability` runs.
#[derive(Debug, Subcommand)]
pub enum ReliabilityAction {
    /// Kill the server with SIGKILL at a random moment under concurrent
    /// writes, round after round, and check that nothing acknowledged was
    /// lost, no report is half written, audit rows equal the changes and
    /// (SQLite) the file is intact. Exits non-zero when a check fails.
    Crash {
        /// Kills.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Acknowledged writes per round at most (the kill comes after a random share of them).
        #[arg(long, default_value_t = 1000)]
        writes: usize,
        /// Concurrent writers.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Send hostile documents and bodies (10,000-level bombs, directive and
    /// alias bombs, batch arrays, huge bodies, mutations over GET) while a
    /// probe asks `/healthz` and a simple query; exits non-zero when one is
    /// answered wrongly (and, with `--strict`, when a time target is missed).
    Hostile {
        /// Times each request is sent.
        #[arg(long, default_value_t = 20)]
        repeats: usize,
        /// Also fail on missed time targets (answers < 100 ms, probe p99 < 50 ms).
        #[arg(long)]
        strict: bool,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Misbehaving company scripts (endless loop, sleep, a string growing
    /// without end, deep recursion) and 100 hot reloads, some broken, while
    /// paced ordinary requests run; exits non-zero when a script is not
    /// stopped with PLUGIN_ERROR, a reload is answered wrongly or an
    /// ordinary request fails (and, with `--strict`, on missed time or memory targets).
    Plugins {
        /// Moves tried per misbehaving script.
        #[arg(long, default_value_t = 10)]
        repeats: usize,
        /// Hot reloads (every fourth one broken).
        #[arg(long, default_value_t = 100)]
        reloads: usize,
        /// Also fail on missed targets (stopped ≤ 250 ms, p99 < 50 ms, memory < 50 MB).
        #[arg(long)]
        strict: bool,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// SQLite on a full disk: copy the benchmark company onto a small tmpfs
    /// (mounted by the harness, which needs root, or `--dir`), write
    /// concurrently, fill the file system for `--full` seconds, free it and
    /// write on; exits non-zero when an acknowledged write is missing, a
    /// refusal is not UNAVAILABLE/DISK_FULL, the server panicked or it did
    /// not recover within 5 s without a restart.
    DiskFull {
        /// Size of the tmpfs, in MiB.
        #[arg(long, default_value_t = 64)]
        size_mb: u64,
        /// A folder on a small file system to use instead of mounting a tmpfs.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Seconds of writing before the disk fills.
        #[arg(long, default_value_t = 5.0)]
        warmup: f64,
        /// Seconds the disk stays full.
        #[arg(long, default_value_t = 10.0)]
        full: f64,
        /// Seconds of writing after the space is freed.
        #[arg(long, default_value_t = 20.0)]
        after: f64,
        /// Concurrent writers.
        #[arg(long, default_value_t = 6)]
        clients: usize,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Stop PostgreSQL under load for `--down` seconds and start it again:
    /// requests meanwhile must get UNAVAILABLE quickly, the server must
    /// reconnect by itself and no acknowledged write may be lost. Runs the
    /// given shell commands to stop and start the database.
    Outage {
        /// Stops the database.
        #[arg(long)]
        stop_cmd: String,
        /// Starts it again.
        #[arg(long)]
        start_cmd: String,
        /// Seconds down.
        #[arg(long, default_value_t = 10.0)]
        down: f64,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Drive the server for minutes at a steady rate with a mix of reads,
    /// manager views and script-running writes; exits non-zero on any failed
    /// request or a failed integrity check (and, with `--strict`, on a p99
    /// past twice the warm-up's or memory growth of 10 % or more after it).
    Soak {
        /// Whole run, warm-up included.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Warm-up seconds.
        #[arg(long, default_value_t = 60.0)]
        warmup: f64,
        /// Requests per second.
        #[arg(long, default_value_t = 400.0)]
        rate: f64,
        /// Clients (each on its own deal and task).
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds per measured window.
        #[arg(long, default_value_t = 30.0)]
        window: f64,
        /// Also fail on missed latency or memory targets.
        #[arg(long)]
        strict: bool,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Fuzz the whole schema with schemathesis (installed from PyPI into
    /// `target/fuzz-venv` on first use) as an admin; exits non-zero on any
    /// HTTP 5xx, INTERNAL error, SQL or stack text, or panic in the server log.
    Fuzz {
        /// Generated operations per schema field.
        #[arg(long, default_value_t = 80)]
        examples: usize,
        /// Seed, to replay a run.
        #[arg(long)]
        seed: Option<u64>,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// Benchmark subcommands.
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
    /// The scenarios over real HTTP (this binary started as the server on the
    /// configured database), each beside its physical limit: hand-written SQL
    /// for the same answer, or a static endpoint.
    Http {
        /// Concurrent clients, comma-separated.
        #[arg(long, default_value = "1,8,64", value_delimiter = ',')]
        clients: Vec<usize>,
        /// Seconds per scenario and client count.
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        /// Only these scenarios (by number or name prefix, comma-separated: `1a,3,7`).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Also count the rows PostgreSQL reads per operation (adds ~30 s per scenario).
        #[arg(long)]
        rows_read: bool,
        /// Fail if statements grow with the page size or a hand-written page
        /// returns other rows than ours (the CI smoke run).
        #[arg(long)]
        check: bool,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The whole suite in one command: `http`, `analytics`, the subscription
    /// fan-out (Node) and `rescore`, on the configured database.
    All {
        /// Concurrent clients of the HTTP scenarios, comma-separated.
        #[arg(long, default_value = "1,8,64", value_delimiter = ',')]
        clients: Vec<usize>,
        /// Seconds per HTTP scenario and client count.
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        /// Timed runs per manager view (in-process).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// WebSocket subscribers of the fan-out (0: skip it).
        #[arg(long, default_value_t = 10_000)]
        subscribers: usize,
        /// Deals the subscribers spread over.
        #[arg(long, default_value_t = 100)]
        subscribed_deals: usize,
        /// Deal changes sent to them.
        #[arg(long, default_value_t = 2_000)]
        events: usize,
        /// Deal changes per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Also count the rows PostgreSQL reads per HTTP operation.
        #[arg(long)]
        rows_read: bool,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Re-score every done activity of the benchmark company (the real job),
    /// and time the script part alone beside the same scoring in plain Rust.
    Rescore {
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Write a company's history as the CSV files an export gives (members,
    /// customers, contacts, deals, stage history, activities) and import each
    /// with `sfa import` into a new company; report time and peak memory.
    Import {
        /// S, M or L (250k deals, 800k stage moves, 1M activities).
        #[arg(long, default_value = "S")]
        size: String,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the files (default: a folder under the system's temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rows per batch of each import.
        #[arg(long, default_value_t = crate::service::import::BATCH_ROWS)]
        batch_rows: usize,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Time a daily report's submission with and without its notifications
    /// and webhook outbox rows (makes two small companies in the database).
    WritePath {
        /// Submissions per variant.
        #[arg(long, default_value_t = 200)]
        runs: usize,
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
