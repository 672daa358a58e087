//! The whole suite in one command (`sfa bench all`): the scenarios over HTTP
//! (1–4 and 7), the manager's views in-process, the re-score (6) and the
//! subscription fan-out (5, driven by `tests/ws/fanout.mjs` with Node
//! against this binary started as the server), one report.

use std::path::Path;

use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::{analytics, generate::BENCH_PASSWORD, http, rescore};
use crate::{
    error::{AppError, AppResult},
    plugins::Plugins,
};

/// The fan-out scenario's shape.
#[derive(Debug, Clone)]
pub struct Fanout {
    /// WebSocket subscribers (0: skip the scenario).
    pub subscribers: usize,
    /// Deals they spread over.
    pub deals: usize,
    /// Changes sent.
    pub events: usize,
    /// Changes per second.
    pub rate: f64,
}

/// Everything `bench all` measured.
#[derive(Debug, Serialize)]
pub struct AllReport {
    /// Scenarios 1–4 and 7.
    pub http: http::Report,
    /// The manager's views in-process.
    pub analytics: analytics::Report,
    /// Scenario 6.
    pub rescore: rescore::RescoreReport,
    /// Scenario 5: what `fanout.mjs` printed.
    pub subscriptions: Option<serde_json::Value>,
}

impl AllReport {
    /// Every table, one after the other.
    pub fn table(&self) -> String {
        let subs = self
            .subscriptions
            .as_ref()
            .map_or("skipped".to_owned(), serde_json::Value::to_string);
        format!(
            "{}\n{}\n{}\nsubscriptions: {subs}\n",
            self.http.table(),
            self.analytics.table(),
            self.rescore.table()
        )
    }
}

/// Runs every scenario in turn on the configured database.
pub async fn run(
    db: &DatabaseConnection,
    plugins: &Plugins,
    opts: &http::Options,
    runs: usize,
    fanout: &Fanout,
) -> AppResult<AllReport> {
    let http = http::run(db, plugins, opts).await?;
    let analytics = analytics::run(db, plugins, runs).await?;
    let subscriptions = if fanout.subscribers > 0 {
        Some(subscriptions(db, plugins, opts.config.as_deref(), fanout).await?)
    } else {
        None
    };
    // Last: it rewrites every score (with the same script).
    let rescore = rescore::run(db, plugins).await?;
    Ok(AllReport {
        http,
        analytics,
        rescore,
        subscriptions,
    })
}

/// Starts the server and runs `tests/ws/fanout.mjs` against it (installing
/// its two npm packages first when they are missing).
async fn subscriptions(
    db: &DatabaseConnection,
    plugins: &Plugins,
    config: Option<&Path>,
    f: &Fanout,
) -> AppResult<serde_json::Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ws");
    let node_failed = |e: std::io::Error| AppError::bad(format!("the fan-out needs Node.js and npm: {e}"));
    if !dir.join("node_modules").exists() {
        let status = tokio::process::Command::new("npm")
            .args(["ci", "--silent"])
            .current_dir(&dir)
            .status()
            .await
            .map_err(node_failed)?;
        if !status.success() {
            return Err(AppError::bad("`npm ci` in tests/ws failed"));
        }
    }
    let ctx = analytics::context(db, plugins).await?;
    let email = http::admin_email(db, &ctx).await?;
    let server = http::Server::start(config).await?;
    let out = tokio::process::Command::new("node")
        .arg(dir.join("fanout.mjs"))
        .arg(server.graphql_url())
        .arg(&email)
        .arg(BENCH_PASSWORD)
        .args([
            f.subscribers.to_string(),
            f.events.to_string(),
            f.deals.to_string(),
            f.rate.to_string(),
        ])
        .output()
        .await;
    let ok = out.as_ref().is_ok_and(|o| o.status.success());
    server.stop(!ok).await;
    let out = out.map_err(node_failed)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(line).map_err(|_| {
        AppError::bad(format!(
            "the fan-out printed no result: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    if !ok {
        return Err(AppError::bad(format!("the fan-out lost deliveries: {result}")));
    }
    Ok(result)
}
