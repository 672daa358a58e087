//! Background load for the reliability harnesses: clients running an
//! operation in a loop (closed loop, or paced to a rate) until stopped, with
//! the latency of each success and every failure kept.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::future::BoxFuture;
use sea_orm::{DatabaseConnection, DbBackend, Statement};
use serde::Serialize;
use uuid::Uuid;

use super::http::{Http, ids};
use crate::error::{AppError, AppResult};

/// The benchmark company's id (`sfa bench generate` made it).
pub(super) async fn bench_company(db: &DatabaseConnection) -> AppResult<Uuid> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT id FROM company WHERE slug = $1",
        _ => "SELECT id FROM company WHERE slug = ?",
    };
    ids(
        db,
        Statement::from_sql_and_values(backend, sql, [super::generate::BENCH_SLUG.into()]),
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| AppError::bad("no benchmark company here; run `sfa bench generate --size S` first"))
}

/// Signs in as the company's first active member of `role` (`admin`, `manager`, `rep`).
pub(super) async fn sign_in(db: &DatabaseConnection, http: &Http, company: Uuid, role: &str) -> AppResult<Arc<str>> {
    use sea_orm::ConnectionTrait;
    let mut p = crate::service::sql::Params::new(db.get_database_backend(), company);
    let r = p.push(role.to_owned());
    let email: String = db
        .query_one_raw(p.statement(format!(
            "SELECT email FROM member WHERE company_id = $1 AND role = {r} AND active ORDER BY id LIMIT 1"
        )))
        .await?
        .ok_or(AppError::NotFound("Member"))?
        .try_get_by_index(0)?;
    http.login(&email).await
}

/// One operation of client `c`, its `n`-th: Ok, or what went wrong.
pub(super) type Op = Arc<dyn Fn(usize, u64) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Makes an [`Op`] from an async closure.
pub(super) fn op<F, Fut>(f: F) -> Op
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move |c, n| Box::pin(f(c, n)))
}

/// Latencies and failures of a load.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Successful operations.
    pub ops: usize,
    /// Per second over the load's life.
    pub per_sec: f64,
    /// Milliseconds.
    pub p50_ms: f64,
    /// Milliseconds.
    pub p99_ms: f64,
    /// Milliseconds.
    pub max_ms: f64,
    /// Failed operations.
    pub failures: usize,
    /// The first failure, for the report.
    pub first_failure: Option<String>,
}

impl Stats {
    /// Summarises latencies (µs) and failures collected over `secs`.
    pub(super) fn of(mut lat_us: Vec<u64>, failures: Vec<String>, secs: f64) -> Self {
        lat_us.sort_unstable();
        let pct = |p: f64| {
            if lat_us.is_empty() {
                return 0.0;
            }
            let i = ((lat_us.len() as f64 * p).ceil() as usize).clamp(1, lat_us.len()) - 1;
            lat_us[i] as f64 / 1000.0
        };
        Stats {
            ops: lat_us.len(),
            per_sec: lat_us.len() as f64 / secs.max(1e-9),
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
            max_ms: lat_us.last().map_or(0.0, |v| *v as f64 / 1000.0),
            failures: failures.len(),
            first_failure: failures.into_iter().next(),
        }
    }
}

type Samples = (Vec<u64>, Vec<String>);

/// A running load.
pub(super) struct Load {
    stop: Arc<AtomicBool>,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<Samples>>,
}

impl Load {
    /// Starts `clients` clients running `op`; with `rate` (operations per
    /// second over all clients) each client paces itself, else it runs flat out.
    pub(super) fn start(op: Op, clients: usize, rate: Option<f64>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let interval = rate.map(|r| Duration::from_secs_f64(clients as f64 / r.max(1e-3)));
        let tasks = (0..clients)
            .map(|c| {
                let (op, stop) = (op.clone(), stop.clone());
                tokio::spawn(async move {
                    let (mut lat, mut failures) = (Vec::new(), Vec::new());
                    let mut next = Instant::now();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(every) = interval {
                            // Spread the clients over the interval, then keep the pace
                            // (a late operation does not make the next ones bunch up).
                            if n == 0 {
                                next += every.mul_f64(c as f64 / clients as f64);
                            }
                            tokio::time::sleep_until(next.into()).await;
                            next = (next + every).max(Instant::now() - every);
                        }
                        let t = Instant::now();
                        match op(c, n).await {
                            Ok(()) => lat.push(t.elapsed().as_micros() as u64),
                            Err(e) => failures.push(e),
                        }
                        n += 1;
                    }
                    (lat, failures)
                })
            })
            .collect();
        Load {
            stop,
            started: Instant::now(),
            tasks,
        }
    }

    /// Stops the clients (each finishes its operation in flight) and summarises.
    pub(super) async fn finish(self) -> Stats {
        self.stop.store(true, Ordering::Relaxed);
        let (mut lat, mut failures) = (Vec::new(), Vec::new());
        for t in self.tasks {
            if let Ok((l, f)) = t.await {
                lat.extend(l);
                failures.extend(f);
            }
        }
        Stats::of(lat, failures, self.started.elapsed().as_secs_f64())
    }
}
