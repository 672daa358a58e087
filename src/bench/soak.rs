//! Soak (`sfa reliability soak`): this binary is started as the server and
//! driven at a steady rate for minutes with a mix users make — pages, deal
//! details with their energy score, the manager's views, and writes that
//! run the company's scripts (visits scored, stage moves through the exit
//! check, task edits, daily reports). After a warm-up, every window must
//! answer without a single error or non-2xx, its p99 within twice the
//! warm-up's, the server's memory within 10 % of what it was after the
//! warm-up, and the database must pass its integrity check at the end.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    crash::{self, Desk, integrity},
    http::{CUSTOMERS_PAGE, DEAL_DETAIL, DEALS_PAGE, Http, Server},
    load::{Load, Stats, op},
};
use crate::error::AppResult;

/// What the soak does.
pub struct Options {
    /// Whole run, warm-up included.
    pub secs: f64,
    /// Warm-up.
    pub warmup_secs: f64,
    /// Requests per second over all clients.
    pub rate: f64,
    /// Clients (each on its own deal and task).
    pub clients: usize,
    /// Length of a measured window.
    pub window_secs: f64,
}

/// One window.
#[derive(Debug, Serialize)]
pub struct Window {
    /// Seconds since the start, at the window's end.
    pub at_secs: f64,
    /// Its requests.
    pub load: Stats,
    /// Server memory at its end, MB.
    pub rss_mb: f64,
}

/// The run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Rate asked for.
    pub rate: f64,
    /// The warm-up.
    pub warmup: Window,
    /// The measured windows.
    pub windows: Vec<Window>,
    /// What the integrity check found at the end.
    pub integrity: Vec<String>,
}

impl Report {
    fn measured_failures(&self) -> usize {
        self.windows.iter().map(|w| w.load.failures).sum::<usize>() + self.warmup.load.failures
    }

    fn worst_p99(&self) -> f64 {
        self.windows.iter().map(|w| w.load.p99_ms).fold(0.0, f64::max)
    }

    fn rss_growth(&self) -> f64 {
        let last = self.windows.last().map_or(self.warmup.rss_mb, |w| w.rss_mb);
        (last - self.warmup.rss_mb) / self.warmup.rss_mb.max(1.0)
    }

    /// No failed request and a clean integrity check.
    pub fn correct(&self) -> bool {
        self.measured_failures() == 0 && self.integrity.is_empty()
    }

    /// The latency and memory targets met.
    pub fn in_budget(&self) -> bool {
        self.worst_p99() <= 2.0 * self.warmup.load.p99_ms.max(1.0) && self.rss_growth() < 0.10
    }

    /// Every target met.
    pub fn passed(&self) -> bool {
        self.correct() && self.in_budget()
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "soak at {:.0} requests/s\n\n{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  first failure\n",
            self.rate, "window", "ops", "per s", "p50 ms", "p99 ms", "failed", "RSS MB"
        );
        for (name, w) in std::iter::once(("warm-up".to_owned(), &self.warmup))
            .chain(self.windows.iter().map(|w| (format!("{:.0} s", w.at_secs), w)))
        {
            out.push_str(&format!(
                "{name:<10} {:>8} {:>8.0} {:>8.1} {:>8.1} {:>8} {:>8.1}  {}\n",
                w.load.ops,
                w.load.per_sec,
                w.load.p50_ms,
                w.load.p99_ms,
                w.load.failures,
                w.rss_mb,
                w.load.first_failure.as_deref().unwrap_or("")
            ));
        }
        out.push_str(&format!(
            "\nfailed requests: {} (target 0); worst p99 {:.1} ms = {:.2}x the warm-up's (target <= 2x); memory growth after the warm-up {:+.1} % (target < 10 %); integrity: {}\n{}\n",
            self.measured_failures(),
            self.worst_p99(),
            self.worst_p99() / self.warmup.load.p99_ms.max(1e-9),
            self.rss_growth() * 100.0,
            if self.integrity.is_empty() { "ok".to_owned() } else { self.integrity.join("; ") },
            match (self.correct(), self.in_budget()) {
                (true, true) => "PASS",
                (true, false) => "correctness PASS, latency or memory target MISSED",
                _ => "FAIL",
            }
        ));
        out
    }
}

/// A client's own records: its deal's version and stage, its task's version.
struct Own {
    deal_v: i64,
    stage: usize,
    task_v: i64,
}

/// A client's desk, its own versions, and the deal owner's id (for the pages).
type Seat = (Arc<Desk>, tokio::sync::Mutex<Own>, String);

const STAGES: [&str; 2] = ["inquiry", "hearing"];

async fn one(http: &Http, desk: &Desk, own: &tokio::sync::Mutex<Own>, owner: &str, n: u64) -> Result<(), String> {
    let token = Some(&*desk.token);
    let keep = |v: Result<super::http::Done, String>| v.map(|d| d.answer.unwrap_or(Value::Null));
    match n % 20 {
        0..=5 => keep(http.post(token, DEAL_DETAIL, json!({"id": desk.deal}), false).await).map(|_| ()),
        6..=9 => http
            .post(token, CUSTOMERS_PAGE, json!({"owner": owner, "n": 20}), false)
            .await
            .map(|_| ()),
        10..=12 => http
            .post(token, DEALS_PAGE, json!({"owner": owner, "n": 20}), false)
            .await
            .map(|_| ()),
        13 => http
            .post(
                token,
                "{ pipeline { stages { stage { key } deals amount weightedAmount } } }",
                json!({}),
                false,
            )
            .await
            .map(|_| ()),
        14 => http
            .post(
                token,
                "{ uncontactedCustomers(days: 30, first: 20) { totalCount } }",
                json!({}),
                false,
            )
            .await
            .map(|_| ()),
        15 => {
            let at = Utc::now() - chrono::Duration::hours(1);
            http.post(
                token,
                "mutation($c: ID!, $at: DateTime!) { createActivity(input: {customerId: $c, kind: CALL, status: DONE, subject: \"soak call\", scheduledAt: $at, doneAt: $at}) { id energyPoints } }",
                json!({"c": desk.customers[n as usize % desk.customers.len()], "at": at}),
                false,
            )
            .await
            .map(|_| ())
        }
        16 => {
            let mut own = own.lock().await;
            let to = (own.stage + 1) % STAGES.len();
            let a = keep(
                http.post(
                    token,
                    "mutation($id: ID!, $v: Int!, $s: String!) { moveDealStage(id: $id, version: $v, stage: $s) { version } }",
                    json!({"id": desk.deal, "v": own.deal_v, "s": STAGES[to]}),
                    true,
                )
                .await,
            )?;
            own.deal_v = a["moveDealStage"]["version"].as_i64().ok_or("no version")?;
            own.stage = to;
            Ok(())
        }
        17 => {
            let mut own = own.lock().await;
            let a = keep(
                http.post(
                    token,
                    "mutation($id: ID!, $v: Int!, $t: String!) { updateTask(input: {id: $id, version: $v, title: $t}) { version } }",
                    json!({"id": desk.task, "v": own.task_v, "t": format!("soak edit {n}")}),
                    true,
                )
                .await,
            )?;
            own.task_v = a["updateTask"]["version"].as_i64().ok_or("no version")?;
            Ok(())
        }
        18 => {
            let vars = desk.next_report("soak report").ok_or("poisoned")?;
            http.post(
                token,
                "mutation($in: DailyReportInput!) { submitDailyReport(input: $in) { id } }",
                vars,
                false,
            )
            .await
            .map(|_| ())
        }
        _ => http
            .post(token, "{ me { id name } }", json!({}), false)
            .await
            .map(|_| ()),
    }
}

/// Runs the soak (see the module's doc).
pub async fn run(
    db: sea_orm::DatabaseConnection,
    config: Option<&std::path::Path>,
    opts: &Options,
) -> AppResult<Report> {
    let server = Server::start(config).await?;
    let result = soak(db, &server, opts).await;
    server.stop(result.as_ref().map_or(true, |r| !r.passed())).await;
    result
}

async fn soak(db: sea_orm::DatabaseConnection, server: &Server, opts: &Options) -> AppResult<Report> {
    let http = server.http.clone();
    let run = crash::prepare(
        db,
        &http,
        &crash::Options {
            rounds: 0,
            writes: 0,
            clients: opts.clients.max(1),
        },
    )
    .await?;
    let counts = crash::counts(&run).await?;
    let owners = owners(&run).await?;
    let desks: Arc<Vec<Seat>> = Arc::new(
        run.desks
            .iter()
            .zip(owners)
            .map(|(d, owner)| {
                let own = Own {
                    deal_v: counts.get(&d.deal).map_or(1, |b| i64::from(b.version)),
                    stage: 0,
                    task_v: counts.get(&d.task).map_or(1, |b| i64::from(b.version)),
                };
                (d.clone(), tokio::sync::Mutex::new(own), owner)
            })
            .collect(),
    );
    // The first stage move goes to whichever of the two stages the deal is not in.
    for (desk, own, _) in desks.iter() {
        let stage = stage_of(&run, desk.deal).await?;
        own.lock().await.stage = STAGES.iter().position(|s| *s == stage).unwrap_or(1);
    }
    let clients = desks.len();
    let make = || {
        let (http, desks) = (http.clone(), desks.clone());
        op(move |c, n| {
            let (http, desks) = (http.clone(), desks.clone());
            async move {
                let (desk, own, owner) = &desks[c % desks.len()];
                one(&http, desk, own, owner, n).await
            }
        })
    };
    let started = Instant::now();
    let window = |secs: f64| {
        let load = Load::start(make(), clients, Some(opts.rate));
        async move {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            load.finish().await
        }
    };
    let warm = window(opts.warmup_secs).await;
    let warmup = Window {
        at_secs: started.elapsed().as_secs_f64(),
        load: warm,
        rss_mb: server.memory_kib().0 as f64 / 1024.0,
    };
    eprintln!("warm-up: p99 {:.1} ms, {:.1} MB", warmup.load.p99_ms, warmup.rss_mb);
    let mut windows = Vec::new();
    while started.elapsed().as_secs_f64() + 1.0 < opts.secs {
        let secs = opts.window_secs.min(opts.secs - started.elapsed().as_secs_f64());
        let load = window(secs).await;
        let w = Window {
            at_secs: started.elapsed().as_secs_f64(),
            load,
            rss_mb: server.memory_kib().0 as f64 / 1024.0,
        };
        eprintln!(
            "{:.0} s: {:.0}/s, p99 {:.1} ms, {} failed, {:.1} MB",
            w.at_secs, w.load.per_sec, w.load.p99_ms, w.load.failures, w.rss_mb
        );
        windows.push(w);
    }
    Ok(Report {
        rate: opts.rate,
        warmup,
        windows,
        integrity: integrity(&run.db).await?,
    })
}

async fn owners(run: &crash::Run) -> AppResult<Vec<String>> {
    use sea_orm::ConnectionTrait;
    let mut out = Vec::new();
    for d in &run.desks {
        let mut p = crate::service::sql::Params::new(run.db.get_database_backend(), run.company_id);
        let x = p.push(d.deal);
        let row = run
            .db
            .query_one_raw(p.statement(format!("SELECT owner_id FROM deal WHERE company_id = $1 AND id = {x}")))
            .await?;
        let owner: uuid::Uuid = row
            .ok_or(crate::error::AppError::NotFound("Deal"))?
            .try_get_by_index(0)?;
        out.push(owner.to_string());
    }
    Ok(out)
}

async fn stage_of(run: &crash::Run, deal: uuid::Uuid) -> AppResult<String> {
    use sea_orm::ConnectionTrait;
    let mut p = crate::service::sql::Params::new(run.db.get_database_backend(), run.company_id);
    let x = p.push(deal);
    Ok(run
        .db
        .query_one_raw(p.statement(format!("SELECT stage FROM deal WHERE company_id = $1 AND id = {x}")))
        .await?
        .ok_or(crate::error::AppError::NotFound("Deal"))?
        .try_get_by_index(0)?)
}
