//! Re-scoring every activity after a scoring change (`sfa bench rescore`):
//! the real re-score job end to end on the configured database (read in
//! keyset batches, score, write), and its script part alone on one core
//! beside the same scoring written in plain Rust over the same inputs (the
//! physical limit of the script part).

use std::time::Instant;

use entity::{activity, enums::ActivityStatus};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::Expr,
};
use serde::Serialize;

use super::analytics;
use crate::{
    error::{AppError, AppResult},
    plugins::Plugins,
    service::rescore::{self, ScoringInput},
};

/// What `bench rescore` measured.
#[derive(Debug, Serialize)]
pub struct RescoreReport {
    /// `postgres` or `sqlite`.
    pub database: String,
    /// The plugin set scoring.
    pub set: String,
    /// Done activities re-scored.
    pub activities: usize,
    /// The whole job (read, score, write), seconds.
    pub job_secs: f64,
    /// Activities per second, end to end.
    pub job_per_sec: f64,
    /// Scores per second of the script (the map built and the function called), one core.
    pub script_per_sec: f64,
    /// Scores per second of the same formula in plain Rust, one core (default set only).
    pub rust_per_sec: Option<f64>,
    /// Activities where the two disagree (must be 0).
    pub disagreements: Option<usize>,
}

impl RescoreReport {
    /// A table for the terminal.
    pub fn table(&self) -> String {
        let rust = self.rust_per_sec.map_or("-".into(), |r| format!("{r:.0}"));
        format!(
            "{} database, plugin set `{}`, {} done activities\n\
             re-score job end to end: {:.1} s, {:.0} activities/s\n\
             script part, one core:   {:.0} scores/s\n\
             plain Rust, one core:    {rust} scores/s (script = {:.2} of it; disagreements: {})\n",
            self.database,
            self.set,
            self.activities,
            self.job_secs,
            self.job_per_sec,
            self.script_per_sec,
            self.rust_per_sec.map_or(0.0, |r| self.script_per_sec / r),
            self.disagreements.map_or("-".into(), |d| d.to_string()),
        )
    }
}

/// The default set's `scoring.rhai`, in Rust.
fn plain_points(input: &ScoringInput) -> i32 {
    let (kind, attendees, reactions) = input.parts();
    let mut points = match kind {
        "visit" => 3,
        "web_meeting" | "seminar" => 2,
        "call" | "email" => 1,
        _ => 0,
    };
    for r in reactions {
        points += match r.as_str() {
            "met_executive" | "requested_quote" | "shared_budget" => 3,
            "asked_questions" | "introduced_colleague" => 2,
            "welcomed" => 1,
            _ => 0,
        };
    }
    let mut weight = 1;
    for (level, _) in input.contacts() {
        if level == "executive" {
            weight = 3;
        } else if level == "manager" && weight < 2 {
            weight = 2;
        }
    }
    points * weight + (attendees - 1).clamp(0, 5)
}

/// Runs the job and the two timings (see the module's doc).
pub async fn run(db: &DatabaseConnection, plugins: &Plugins) -> AppResult<RescoreReport> {
    let ctx = analytics::context(db, plugins).await?;
    let company_id = ctx.actor.company_id;
    let set = ctx.actor.plugins.clone();
    let done = Condition::all()
        .add(activity::Column::CompanyId.eq(company_id))
        .add(activity::Column::Status.eq(ActivityStatus::Done))
        .add(activity::Column::DeletedAt.is_null());

    // Every done activity's inputs, as the job reads them.
    let mut inputs = Vec::new();
    let mut after = None;
    loop {
        let batch = rescore::load_inputs(db, done.clone(), after).await?;
        let Some(last) = batch.last().map(|i| i.id) else { break };
        after = Some(last);
        inputs.extend(batch);
    }

    // The script part and plain Rust, one core each, on the same inputs.
    let scorer = set.clone();
    let (script_per_sec, rust_per_sec, disagreements) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let scores: Vec<i32> = inputs.iter().map(|i| i.score(&scorer).unwrap_or(i32::MIN)).collect();
        let script = inputs.len() as f64 / t.elapsed().as_secs_f64();
        if scorer.name != "default" {
            return (script, None, None);
        }
        let t = Instant::now();
        let plain: Vec<i32> = inputs.iter().map(plain_points).collect();
        let rust = inputs.len() as f64 / t.elapsed().as_secs_f64();
        let differ = scores.iter().zip(&plain).filter(|(a, b)| a != b).count();
        (script, Some(rust), Some(differ))
    })
    .await
    .map_err(|e| AppError::bad(format!("scoring thread: {e}")))?;

    // The real job: every done activity made stale, then re-scored.
    // One UPDATE of every row: at size L longer than the server's 30 s
    // statement timeout, which this maintenance step lifts for itself.
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL statement_timeout = 0").await?;
    }
    let stale = activity::Entity::update_many()
        .col_expr(activity::Column::EnergyVersion, Expr::value("bench-stale"))
        .filter(done)
        .exec(&txn)
        .await?
        .rows_affected as usize;
    txn.commit().await?;
    let t = Instant::now();
    let job = rescore::start(db, company_id, set.clone()).await?;
    let finished = loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = rescore::latest(db, company_id)
            .await?
            .ok_or(AppError::NotFound("Job"))?;
        if now.id == job.id && now.status != "running" {
            break now;
        }
    };
    let job_secs = t.elapsed().as_secs_f64();
    if finished.status != "done" {
        return Err(AppError::bad(format!(
            "the re-score ended {}: {}",
            finished.status,
            finished.error.unwrap_or_default()
        )));
    }
    Ok(RescoreReport {
        database: match db.get_database_backend() {
            DbBackend::Postgres => "postgres".into(),
            _ => "sqlite".into(),
        },
        set: set.name.clone(),
        activities: stale,
        job_secs,
        job_per_sec: stale as f64 / job_secs,
        script_per_sec,
        rust_per_sec,
        disagreements,
    })
}
