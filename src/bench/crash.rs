//! Crash durability (`sfa reliability crash`): this binary is started as the
//! server on the configured database, its reps write concurrently (daily
//! reports of three visits, stage moves, task edits), and the server is
//! killed with SIGKILL at a random moment, round after round. After each kill
//! the database is checked before the server is started again:
//!
//! - every write the client saw acknowledged is there;
//! - no daily report is half written (each has all its visits);
//! - audit rows equal the changes (per deal and task: new audit rows = new
//!   versions = new stage-history rows; one audit row per new report and visit);
//! - SQLite's `PRAGMA integrity_check` and `foreign_key_check` are clean;
//!   on PostgreSQL, amcheck's `bt_index_check` passes on every index.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{Days, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::http::{Http, Server, ids};
use crate::{
    error::{AppError, AppResult},
    service::sql::Params,
};

/// What the harness does.
pub struct Options {
    /// Kills (each followed by a check and a restart).
    pub rounds: usize,
    /// Acknowledged writes per round at most: the kill comes after a random
    /// number of them, between a tenth of this and all of it.
    pub writes: usize,
    /// Concurrent writers (one rep each, at most as many as the company has).
    pub clients: usize,
}

/// One round: how much was written, when the kill came, what the check found.
#[derive(Debug, Serialize)]
pub struct Round {
    /// 1-based.
    pub round: usize,
    /// Writes acknowledged before the kill.
    pub acked: usize,
    /// Writes sent (acknowledged or not) before the kill.
    pub sent: usize,
    /// Milliseconds from the first write to the kill.
    pub killed_after_ms: u64,
    /// Milliseconds until the restarted server answered `/healthz`.
    pub restart_ms: u64,
    /// Everything the check found wrong (empty: the round passed).
    pub problems: Vec<String>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Each round.
    pub rounds: Vec<Round>,
    /// Acknowledged writes checked over all rounds.
    pub acked: usize,
    /// Daily reports found complete over the run.
    pub reports: usize,
}

impl Report {
    /// True when no round found a problem.
    pub fn passed(&self) -> bool {
        self.rounds.iter().all(|r| r.problems.is_empty())
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "crash durability on {}: {} rounds, {} acknowledged writes, {} daily reports complete\n\n\
             round  acked   sent  killed after  restart  problems\n",
            self.database,
            self.rounds.len(),
            self.acked,
            self.reports
        );
        for r in &self.rounds {
            out.push_str(&format!(
                "{:>5}  {:>5}  {:>5}  {:>9} ms  {:>4} ms  {}\n",
                r.round,
                r.acked,
                r.sent,
                r.killed_after_ms,
                r.restart_ms,
                if r.problems.is_empty() {
                    "none".to_owned()
                } else {
                    r.problems.join("; ")
                }
            ));
        }
        out.push_str(if self.passed() {
            "\nPASS: every acknowledged write survived, no half report, audit = changes, integrity ok\n"
        } else {
            "\nFAIL\n"
        });
        out
    }
}

/// The marker of the harness's reports (the check looks only at those).
pub(super) const BODY: &str = "crash-harness report";
const VISITS: usize = 3;
/// The open stages the deals go back and forth between.
const STAGES: [&str; 2] = ["inquiry", "hearing"];

/// One rep's work: three customers to visit, a deal to move, a task to edit.
pub(super) struct Desk {
    pub(super) token: Arc<str>,
    pub(super) customers: Vec<Uuid>,
    pub(super) deal: Uuid,
    pub(super) task: Uuid,
    /// The next report's day (counting back, one report per day).
    pub(super) day: Mutex<NaiveDate>,
}

impl Desk {
    /// The variables of this writer's next daily report: its next day (one
    /// report per day, counting back) with a done visit to each customer.
    pub(super) fn next_report(&self, body: &str) -> Option<Value> {
        let day = {
            let mut d = self.day.lock().ok()?;
            *d = *d - Days::new(1);
            *d
        };
        let visits: Vec<Value> = self
            .customers
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let at = day.and_hms_opt(9 + k as u32, 0, 0).unwrap_or_default().and_utc();
                json!({"customerId": c, "kind": "VISIT", "status": "DONE", "subject": format!("visit {k}"),
                       "scheduledAt": at, "doneAt": at + chrono::Duration::minutes(30)})
            })
            .collect();
        Some(json!({"in": {"reportDate": day, "body": body, "activities": visits}}))
    }
}

/// What the clients saw acknowledged.
#[derive(Default)]
struct Ledger {
    /// Report id → visits.
    reports: Vec<Uuid>,
    /// Highest acknowledged version per deal and per task.
    versions: HashMap<Uuid, i32>,
}

/// A deal's or task's counts when the run started.
#[derive(Clone, Copy)]
pub(super) struct Base {
    pub(super) version: i32,
    audits: i64,
    history: i64,
}

pub(super) struct Run {
    pub(super) db: DatabaseConnection,
    pub(super) company_id: Uuid,
    pub(super) desks: Vec<Arc<Desk>>,
    base: HashMap<Uuid, Base>,
    ledger: Mutex<Ledger>,
}

const SUBMIT: &str = "mutation($in: DailyReportInput!) { submitDailyReport(input: $in) { id activities { id } } }";
const MOVE: &str =
    "mutation($id: ID!, $v: Int!, $s: String!) { moveDealStage(id: $id, version: $v, stage: $s) { version } }";
const EDIT: &str =
    "mutation($id: ID!, $v: Int!, $t: String!) { updateTask(input: {id: $id, version: $v, title: $t}) { version } }";

/// Runs the harness (see the module's doc).
pub async fn run(db: DatabaseConnection, config: Option<&std::path::Path>, opts: &Options) -> AppResult<Report> {
    let mut server = Server::start(config).await?;
    let run = match prepare(db, &server.http, opts).await {
        Ok(run) => Arc::new(run),
        Err(e) => {
            server.stop(true).await;
            return Err(e);
        }
    };
    let database = match run.db.get_database_backend() {
        DbBackend::Postgres => "postgres",
        _ => "sqlite",
    };
    let mut rounds = Vec::new();
    for round in 1..=opts.rounds.max(1) {
        let target = rand::random_range(opts.writes.max(10) / 10..=opts.writes.max(10));
        let (acked, sent, killed_after_ms) = write_until_killed(&run, server, target).await;
        let problems = check(&run).await?;
        let started = Instant::now();
        server = Server::start(config).await?;
        let restart_ms = started.elapsed().as_millis() as u64;
        eprintln!("round {round}: {acked} acknowledged, killed after {killed_after_ms} ms, {problems:?}");
        rounds.push(Round {
            round,
            acked,
            sent,
            killed_after_ms,
            restart_ms,
            problems,
        });
    }
    server.stop(false).await;
    let reports = run.ledger.lock().map(|l| l.reports.len()).unwrap_or(0);
    Ok(Report {
        database: database.into(),
        acked: rounds.iter().map(|r| r.acked).sum(),
        reports,
        rounds,
    })
}

pub(super) async fn prepare(db: DatabaseConnection, http: &Http, opts: &Options) -> AppResult<Run> {
    let backend = db.get_database_backend();
    let company_id = super::load::bench_company(&db).await?;
    // Each writer is a rep with three customers, and a deal (open, in one of
    // the two stages) and an open task of their own: reps with several deals
    // and tasks get several writers, so that no two writers share a record.
    let reps = db
        .query_all_raw(
            Params::new(backend, company_id).statement(
                "SELECT id, email FROM member WHERE company_id = $1 AND role = 'rep' AND active ORDER BY id",
            ),
        )
        .await?;
    let oldest: Option<NaiveDate> = db
        .query_one_raw(
            Params::new(backend, company_id)
                .statement("SELECT MIN(report_date) FROM daily_report WHERE company_id = $1"),
        )
        .await?
        .and_then(|r| r.try_get_by_index(0).ok().flatten());
    let last = oldest.map_or(Utc::now().date_naive(), |d| d.min(Utc::now().date_naive()));
    let mut desks = Vec::new();
    let per_rep = opts.clients.max(1).div_ceil(reps.len().max(1));
    for row in &reps {
        let (member, email): (Uuid, String) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        let of_member = |sql: String| {
            let mut p = Params::new(backend, company_id);
            let m = p.push(member);
            ids(&db, p.statement(sql.replace("{m}", &m)))
        };
        let customers = of_member(format!(
            "SELECT id FROM customer WHERE company_id = $1 AND owner_id = {{m}} AND deleted_at IS NULL ORDER BY id LIMIT {VISITS}"
        ))
        .await?;
        let deals = of_member(format!(
            "SELECT id FROM deal WHERE company_id = $1 AND owner_id = {{m}} AND status = 'open'
             AND deleted_at IS NULL AND stage IN ('inquiry', 'hearing') ORDER BY id LIMIT {per_rep}"
        ))
        .await?;
        let tasks = of_member(format!(
            "SELECT id FROM task WHERE company_id = $1 AND assignee_id = {{m}} AND status = 'open'
             AND deleted_at IS NULL ORDER BY id LIMIT {per_rep}"
        ))
        .await?;
        if customers.len() < VISITS || deals.is_empty() || tasks.is_empty() {
            continue;
        }
        let token = http.login(&email).await?;
        for (deal, task) in deals.into_iter().zip(tasks) {
            let k = desks.len() as u64;
            desks.push(Arc::new(Desk {
                token: token.clone(),
                customers: customers.clone(),
                deal,
                task,
                // Each writer counts back from its own 400 days, apart from the others'.
                day: Mutex::new(last - Days::new(1 + 400 * k)),
            }));
        }
    }
    desks.truncate(opts.clients.max(1));
    if desks.is_empty() {
        return Err(AppError::bad(
            "the benchmark company has no rep with customers, an open deal and a task",
        ));
    }
    let mut run = Run {
        db,
        company_id,
        desks,
        base: HashMap::new(),
        ledger: Mutex::new(Ledger::default()),
    };
    run.base = counts(&run).await?;
    Ok(run)
}

/// Per deal and task of the desks: (version, audit rows, stage-history rows) now.
pub(super) async fn counts(run: &Run) -> AppResult<HashMap<Uuid, Base>> {
    let backend = run.db.get_database_backend();
    let mut out = HashMap::new();
    for desk in &run.desks {
        for (table, id) in [("deal", desk.deal), ("task", desk.task)] {
            let mut p = Params::new(backend, run.company_id);
            let x = p.push(id);
            let history = if table == "deal" {
                format!("(SELECT COUNT(*) FROM deal_stage_history h WHERE h.deal_id = {x})")
            } else {
                "CAST(0 AS BIGINT)".into()
            };
            let row = run
                .db
                .query_one_raw(p.statement(format!(
                    "SELECT version,
                            (SELECT COUNT(*) FROM audit_log a WHERE a.company_id = $1 AND a.entity_id = {x}),
                            {history}
                     FROM {table} WHERE company_id = $1 AND id = {x}"
                )))
                .await?
                .ok_or(AppError::NotFound("Deal or task"))?;
            out.insert(
                id,
                Base {
                    version: row.try_get_by_index(0)?,
                    audits: row.try_get_by_index(1)?,
                    history: row.try_get_by_index(2)?,
                },
            );
        }
    }
    Ok(out)
}

impl Run {
    /// Puts an acknowledged write (the `data` of its answer) into the ledger
    /// the check compares the database with.
    pub(super) fn acknowledge(&self, desk: &Desk, data: &Value) {
        let Ok(mut ledger) = self.ledger.lock() else { return };
        if let Some(id) = data["submitDailyReport"]["id"].as_str().and_then(|s| s.parse().ok()) {
            ledger.reports.push(id);
        } else if let Some(v) = data["moveDealStage"]["version"].as_i64() {
            ledger.versions.insert(desk.deal, v as i32);
        } else if let Some(v) = data["updateTask"]["version"].as_i64() {
            ledger.versions.insert(desk.task, v as i32);
        }
    }
}

/// Starts one writer per desk, kills the server once `target` writes were
/// acknowledged (or after 60 s), and returns (acknowledged, sent, ms to the kill).
async fn write_until_killed(run: &Arc<Run>, server: Server, target: usize) -> (usize, usize, u64) {
    let acked = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let now = counts(run).await.unwrap_or_default();
    let started = Instant::now();
    let writers: Vec<_> = run
        .desks
        .iter()
        .map(|desk| {
            let (run, desk, http) = (run.clone(), desk.clone(), server.http.clone());
            let (acked, sent) = (acked.clone(), sent.clone());
            let deal_v = now.get(&desk.deal).map_or(1, |b| b.version);
            let task_v = now.get(&desk.task).map_or(1, |b| b.version);
            tokio::spawn(async move { writer(&run, &desk, &http, deal_v, task_v, &acked, &sent).await })
        })
        .collect();
    while acked.load(Ordering::SeqCst) < target && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let killed_after_ms = started.elapsed().as_millis() as u64;
    server.stop(false).await;
    for w in writers {
        w.abort();
        let _ = w.await;
    }
    (
        acked.load(Ordering::SeqCst),
        sent.load(Ordering::SeqCst),
        killed_after_ms,
    )
}

/// One rep writing in turn a report, a stage move and a task edit, until the
/// server goes away; what is acknowledged goes into the ledger.
async fn writer(
    run: &Run,
    desk: &Desk,
    http: &Http,
    mut deal_v: i32,
    mut task_v: i32,
    acked: &AtomicUsize,
    sent: &AtomicUsize,
) {
    let mut stage = 0;
    for n in 0.. {
        sent.fetch_add(1, Ordering::SeqCst);
        let answer = match n % 3 {
            0 => {
                let Some(vars) = desk.next_report(BODY) else { return };
                http.post(Some(&desk.token), SUBMIT, vars, true).await
            }
            1 => {
                stage = (stage + 1) % STAGES.len();
                let vars = json!({"id": desk.deal, "v": deal_v, "s": STAGES[stage]});
                http.post(Some(&desk.token), MOVE, vars, true).await
            }
            _ => {
                let vars = json!({"id": desk.task, "v": task_v, "t": format!("crash-harness edit {n}")});
                http.post(Some(&desk.token), EDIT, vars, true).await
            }
        };
        let data = match answer {
            Ok(done) => done.answer.unwrap_or_default(),
            // A refused move (already in that stage) is not a write; anything else ends the writer.
            Err(e) if e.contains("already in stage") => continue,
            Err(_) => return,
        };
        run.acknowledge(desk, &data);
        if let Some(v) = data["moveDealStage"]["version"].as_i64() {
            deal_v = v as i32;
        } else if let Some(v) = data["updateTask"]["version"].as_i64() {
            task_v = v as i32;
        }
        acked.fetch_add(1, Ordering::SeqCst);
    }
}

/// Everything wrong in the database now (see the module's doc).
pub(super) async fn check(run: &Run) -> AppResult<Vec<String>> {
    let backend = run.db.get_database_backend();
    let mut problems = Vec::new();
    problems.extend(integrity(&run.db).await?);
    // Every report of the harness, with its visits and audit rows.
    let rows = run
        .db
        .query_all_raw(
            Params::new(backend, run.company_id).statement(format!(
                "SELECT r.id,
                        (SELECT COUNT(*) FROM activity a WHERE a.daily_report_id = r.id),
                        (SELECT COUNT(*) FROM audit_log l WHERE l.company_id = r.company_id AND l.entity_id = r.id),
                        (SELECT COUNT(*) FROM activity a WHERE a.daily_report_id = r.id
                           AND (SELECT COUNT(*) FROM audit_log l WHERE l.company_id = a.company_id AND l.entity_id = a.id) <> 1)
                 FROM daily_report r WHERE r.company_id = $1 AND r.body = '{BODY}'"
            )),
        )
        .await?;
    let mut stored = HashMap::new();
    for row in &rows {
        let (id, visits, audits, unaudited): (Uuid, i64, i64, i64) = (
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            row.try_get_by_index(2)?,
            row.try_get_by_index(3)?,
        );
        if visits != VISITS as i64 {
            problems.push(format!("report {id} has {visits} of its {VISITS} visits"));
        }
        if audits != 1 || unaudited != 0 {
            problems.push(format!(
                "report {id}: {audits} audit rows, {unaudited} visits without exactly one"
            ));
        }
        stored.insert(id, ());
    }
    let now = counts(run).await?;
    let ledger = run
        .ledger
        .lock()
        .map_err(|_| AppError::Internal("ledger poisoned".into()))?;
    let lost = ledger.reports.iter().filter(|id| !stored.contains_key(id)).count();
    if lost > 0 {
        problems.push(format!("{lost} acknowledged reports missing"));
    }
    for (id, base) in &run.base {
        let Some(n) = now.get(id) else {
            problems.push(format!("{id} is gone"));
            continue;
        };
        if let Some(v) = ledger.versions.get(id)
            && n.version < *v
        {
            problems.push(format!(
                "{id} at version {} but version {v} was acknowledged",
                n.version
            ));
        }
        let changes = i64::from(n.version - base.version);
        if n.audits - base.audits != changes {
            problems.push(format!(
                "{id}: {changes} changes but {} audit rows",
                n.audits - base.audits
            ));
        }
        if run.desks.iter().any(|d| d.deal == *id) && n.history - base.history != changes {
            problems.push(format!(
                "deal {id}: {changes} moves but {} history rows",
                n.history - base.history
            ));
        }
    }
    Ok(problems)
}

/// What SQLite's `integrity_check` and `foreign_key_check`, or on
/// PostgreSQL amcheck's `bt_index_check` on every index, find wrong (empty: nothing).
pub(super) async fn integrity(db: &DatabaseConnection) -> AppResult<Vec<String>> {
    let backend = db.get_database_backend();
    let mut problems = Vec::new();
    if backend == DbBackend::Sqlite {
        for pragma in ["PRAGMA integrity_check", "PRAGMA foreign_key_check"] {
            let rows = db.query_all_raw(Statement::from_string(backend, pragma)).await?;
            let lines: Vec<String> = rows
                .iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap_or_else(|_| "a violation".into()))
                .collect();
            if !(lines.is_empty() || lines == ["ok"]) {
                problems.push(format!("{pragma}: {}", lines.join(", ")));
            }
        }
    }
    if backend == DbBackend::Postgres {
        // amcheck verifies every B-tree index of the schema against its table.
        let checked = async {
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS amcheck").await?;
            db.query_all_raw(Statement::from_string(
                backend,
                "SELECT bt_index_check(c.oid, true) FROM pg_index i
                     JOIN pg_class c ON c.oid = i.indexrelid
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     JOIN pg_am a ON a.oid = c.relam
                     WHERE n.nspname = current_schema() AND a.amname = 'btree'",
            ))
            .await
        };
        if let Err(e) = checked.await {
            problems.push(format!("amcheck: {e}"));
        }
    }
    Ok(problems)
}
