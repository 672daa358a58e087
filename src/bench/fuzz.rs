//! Fuzzing the API (`sfa reliability fuzz`): schemathesis (from PyPI, in a
//! virtual environment it makes under `target/`) generates operations over
//! the whole schema (`schema.graphql`) with an admin's token against this
//! binary started as the server. `tests/fuzz/hooks.py` gives it the schema's
//! scalars and the checks: no HTTP 5xx, no error without a client code or
//! with INTERNAL, no SQL or stack text in any response. Afterwards the
//! server's log must hold no panic.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{
    http::Server,
    load::{bench_company, sign_in},
};
use crate::error::{AppError, AppResult};

/// The run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Operations schemathesis generated and sent.
    pub operations: u64,
    /// Schemathesis found no failing response.
    pub checks_passed: bool,
    /// Panics in the server's log.
    pub panics: usize,
    /// Schemathesis' summary lines.
    pub summary: String,
}

impl Report {
    /// No failing response and no panic.
    pub fn passed(&self) -> bool {
        self.checks_passed && self.panics == 0
    }

    /// The report as text.
    pub fn table(&self) -> String {
        format!(
            "{}\n\nAPI fuzzing: {} operations generated; responses with HTTP 5xx, INTERNAL or internal text: {}; panics in the server log: {}\n{}\n",
            self.summary.trim_end(),
            self.operations,
            if self.checks_passed { "none" } else { "FOUND (above)" },
            self.panics,
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// schemathesis in `target/fuzz-venv`, installed from `tests/fuzz/requirements.txt` when missing.
async fn schemathesis() -> AppResult<PathBuf> {
    let venv = root().join("target/fuzz-venv");
    let bin = venv.join("bin/schemathesis");
    if bin.exists() {
        return Ok(bin);
    }
    let run = |cmd: &mut tokio::process::Command| {
        let shown = format!("{cmd:?}");
        let status = cmd.status();
        async move {
            match status.await {
                Ok(s) if s.success() => Ok(()),
                Ok(s) => Err(AppError::bad(format!("{shown}: {s}"))),
                Err(e) => Err(AppError::bad(format!(
                    "{shown}: {e} (Python 3 is needed for the fuzzer)"
                ))),
            }
        }
    };
    run(tokio::process::Command::new("python3").arg("-m").arg("venv").arg(&venv)).await?;
    run(tokio::process::Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "-r"])
        .arg(root().join("tests/fuzz/requirements.txt")))
    .await?;
    Ok(bin)
}

/// Runs the harness (see the module's doc).
pub async fn run(
    db: &sea_orm::DatabaseConnection,
    config: Option<&Path>,
    examples: usize,
    seed: Option<u64>,
) -> AppResult<Report> {
    let bin = schemathesis().await?;
    let server = Server::start(config).await?;
    let result = fuzz(db, &server, &bin, examples, seed).await;
    server.stop(result.as_ref().map_or(true, |r| !r.passed())).await;
    result
}

async fn fuzz(
    db: &sea_orm::DatabaseConnection,
    server: &Server,
    bin: &Path,
    examples: usize,
    seed: Option<u64>,
) -> AppResult<Report> {
    let company = bench_company(db).await?;
    let token = sign_in(db, &server.http, company, "admin").await?;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.current_dir(root().join("tests/fuzz"))
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .arg("run")
        .arg(root().join("schema.graphql"))
        .args(["--url", &server.graphql_url()])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", &examples.max(1).to_string()])
        .args(["--checks", "no_server_error,no_internal_text"])
        .args(["--workers", "2", "--no-shrink", "--output-truncate", "true"]);
    if let Some(s) = seed {
        cmd.args(["--seed", &s.to_string()]);
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| AppError::bad(format!("{}: {e}", bin.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // "Test cases:\n  1330 generated, 1330 passed"
    let operations = stdout
        .lines()
        .filter_map(|l| l.trim().split_once(" generated"))
        .filter_map(|(n, _)| n.trim().parse::<u64>().ok())
        .next_back()
        .unwrap_or(0);
    let summary = stdout
        .split_once("SUMMARY")
        .map_or(stdout.as_str(), |(_, rest)| rest)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('='))
        .collect::<Vec<_>>()
        .join("\n");
    let failures = stdout
        .split_once("FAILURES")
        .map(|(_, f)| f.to_owned())
        .unwrap_or_default();
    let log = server.log_text();
    Ok(Report {
        operations,
        checks_passed: out.status.success(),
        panics: log.matches("panicked at").count() + log.matches("panic while serving").count(),
        summary: if failures.is_empty() {
            summary
        } else {
            format!("{}\n{summary}", failures.chars().take(6000).collect::<String>())
        },
    })
}
