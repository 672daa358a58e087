//! A database outage under load (`sfa reliability outage`, PostgreSQL): this
//! binary is started as the server, clients write (new customers) and read,
//! then PostgreSQL is stopped with the given command for `down` seconds and
//! started again. Requests during the outage must fail quickly with
//! UNAVAILABLE (never INTERNAL, never a hang past the timeouts), the server
//! must reconnect by itself, and every write acknowledged before, during or
//! after must be in the database at the end.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DbBackend};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    http::{Http, Server},
    load::{bench_company, sign_in},
};
use crate::error::{AppError, AppResult};

/// What happened to the requests in one phase.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Phase {
    /// Answered without error.
    pub ok: usize,
    /// Answered UNAVAILABLE (or HTTP 503).
    pub unavailable: usize,
    /// Of those, answered within 100 ms.
    pub unavailable_fast: usize,
    /// Anything else (INTERNAL, another code, no answer): must stay 0.
    pub other: usize,
    /// The first of those.
    pub first_other: Option<String>,
    /// Slowest answer, ms.
    pub max_ms: f64,
}

/// The run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Seconds the database was down.
    pub down_secs: f64,
    /// Before the stop.
    pub before: Phase,
    /// From the stop to the first success after the start.
    pub outage: Phase,
    /// After the first success.
    pub after: Phase,
    /// Seconds from the database being started to the first successful request.
    pub recovered_after_secs: f64,
    /// Writes acknowledged over the run.
    pub acked: usize,
    /// Of those, missing at the end.
    pub lost: usize,
}

impl Report {
    /// No unclear error, no lost write, and the server came back.
    pub fn passed(&self) -> bool {
        self.before.other == 0 && self.outage.other == 0 && self.after.other == 0 && self.lost == 0 && self.after.ok > 0
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "database outage of {:.1} s under load\n\n{:<8} {:>6} {:>12} {:>10} {:>6} {:>9}\n",
            self.down_secs, "phase", "ok", "UNAVAILABLE", "in <100 ms", "other", "max ms"
        );
        for (name, p) in [
            ("before", &self.before),
            ("outage", &self.outage),
            ("after", &self.after),
        ] {
            out.push_str(&format!(
                "{name:<8} {:>6} {:>12} {:>10} {:>6} {:>9.1}{}\n",
                p.ok,
                p.unavailable,
                p.unavailable_fast,
                p.other,
                p.max_ms,
                p.first_other
                    .as_ref()
                    .map(|f| format!("  first other: {f}"))
                    .unwrap_or_default()
            ));
        }
        out.push_str(&format!(
            "\nserved again {:.1} s after the database was started; {} writes acknowledged, {} missing\n{}\n",
            self.recovered_after_secs,
            self.acked,
            self.lost,
            if self.passed() { "PASS" } else { "FAIL" }
        ));
        out
    }
}

#[derive(Default)]
struct Shared {
    phase: usize,
    phases: [Phase; 3],
    acked: Vec<Uuid>,
    first_ok_after_start: Option<Instant>,
    /// When the start command was given.
    db_started: Option<Instant>,
}

async fn shell(cmd: &str) -> AppResult<()> {
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .await
        .map_err(|e| AppError::bad(format!("{cmd}: {e}")))?;
    if !status.success() {
        return Err(AppError::bad(format!("{cmd}: {status}")));
    }
    Ok(())
}

/// Runs the harness (see the module's doc).
pub async fn run(
    db: &sea_orm::DatabaseConnection,
    config: Option<&std::path::Path>,
    stop_cmd: &str,
    start_cmd: &str,
    down: Duration,
) -> AppResult<Report> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Err(AppError::bad(
            "the outage harness stops PostgreSQL; point DATABASE_URL at one (SQLite's locked file is a test: tests/api/outage.rs)",
        ));
    }
    let server = Server::start(config).await?;
    let result = outage(db, &server.http, stop_cmd, start_cmd, down).await;
    server.stop(result.as_ref().map_or(true, |r| !r.passed())).await;
    result
}

async fn outage(
    db: &sea_orm::DatabaseConnection,
    http: &Http,
    stop_cmd: &str,
    start_cmd: &str,
    down: Duration,
) -> AppResult<Report> {
    let company = bench_company(db).await?;
    let token = sign_in(db, http, company, "rep").await?;
    let shared = Arc::new(Mutex::new(Shared::default()));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (http, token, shared, running) = (http.clone(), token.clone(), shared.clone(), running.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let t0 = Instant::now();
                    let answer = if c % 2 == 0 {
                        http.post(
                            Some(&token),
                            "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }",
                            json!({"n": format!("outage-harness {c}-{n}")}),
                            true,
                        )
                        .await
                    } else {
                        http.post(
                            Some(&token),
                            "{ customers(first: 5) { nodes { id name } } }",
                            json!({}),
                            false,
                        )
                        .await
                    };
                    let ms = t0.elapsed().as_secs_f64() * 1000.0;
                    {
                        let Ok(mut s) = shared.lock() else { return };
                        let phase = s.phase;
                        let p = &mut s.phases[phase];
                        p.max_ms = p.max_ms.max(ms);
                        match answer {
                            Ok(done) => {
                                p.ok += 1;
                                if let Some(id) = done
                                    .answer
                                    .as_ref()
                                    .and_then(|a| a["createCustomer"]["id"].as_str())
                                    .and_then(|s| s.parse().ok())
                                {
                                    s.acked.push(id);
                                }
                                if phase == 1
                                    && s.db_started.is_some_and(|at| at < t0)
                                    && s.first_ok_after_start.is_none()
                                {
                                    s.first_ok_after_start = Some(Instant::now());
                                }
                            }
                            Err(e) if e.contains("\"UNAVAILABLE\"") || e.contains("HTTP 503") => {
                                p.unavailable += 1;
                                p.unavailable_fast += usize::from(ms < 100.0);
                            }
                            Err(e) => {
                                p.other += 1;
                                p.first_other.get_or_insert(e);
                            }
                        }
                    }
                    // Clients do not hammer a failing server: a short pause after an error.
                    tokio::time::sleep(Duration::from_millis(if ms > 50.0 { 0 } else { 10 })).await;
                }
            })
        })
        .collect();
    let set_phase = |p: usize| {
        if let Ok(mut s) = shared.lock() {
            s.phase = p;
        }
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    set_phase(1);
    let stopped = Instant::now();
    let stopping = shell(stop_cmd).await;
    if stopping.is_ok() {
        tokio::time::sleep(down.saturating_sub(stopped.elapsed())).await;
    }
    let started = Instant::now();
    let down_secs = started.duration_since(stopped).as_secs_f64();
    if let Ok(mut s) = shared.lock() {
        s.db_started = Some(started);
    }
    // Start it again whatever happened: the machine's database must come back.
    shell(start_cmd).await?;
    stopping?;
    // The outage phase ends with the first success after the start.
    let deadline = Instant::now() + Duration::from_secs(60);
    let first_ok = loop {
        if let Some(t) = shared.lock().ok().and_then(|s| s.first_ok_after_start) {
            break Some(t);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    set_phase(2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    let (phases, acked) = {
        let s = shared.lock().map_err(|_| AppError::Internal("poisoned".into()))?;
        (s.phases.clone(), s.acked.clone())
    };
    // Every acknowledged customer, looked up in the database now.
    let mut found = 0;
    for chunk in acked.chunks(500) {
        let mut p = crate::service::sql::Params::new(DbBackend::Postgres, company);
        let list: Vec<String> = chunk.iter().map(|id| p.push(*id)).collect();
        let row = db
            .query_one_raw(p.statement(format!(
                "SELECT COUNT(*) FROM customer WHERE company_id = $1 AND id IN ({})",
                list.join(", ")
            )))
            .await?;
        found += row.and_then(|r| r.try_get_by_index::<i64>(0).ok()).unwrap_or(0) as usize;
    }
    let [before, outage, after] = phases;
    Ok(Report {
        down_secs,
        before,
        outage,
        after,
        recovered_after_secs: first_ok.map_or(f64::INFINITY, |t| t.saturating_duration_since(started).as_secs_f64()),
        acked: acked.len(),
        lost: acked.len() - found,
    })
}
