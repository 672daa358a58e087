//! The month's landing forecast (着地見込み): sales booked so far (sales
//! records) plus the open deals expected to close in the month, weighted by
//! their stage's probability, against the target. A background task keeps
//! one snapshot per member, team and week so a manager sees how the forecast
//! moved week over week.

use std::time::Duration as StdDuration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{company, enums::PeriodKind, forecast_snapshot, member, team};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::OnConflict,
};
use uuid::Uuid;

use super::{kpi, new_id, period::Period, plan::Subject, sql::Params};
use crate::{error::AppResult, plugins::Plugins};

/// One member's or team's forecast for one month.
#[derive(Debug, Clone)]
pub struct Forecast {
    /// Who.
    pub subject: Subject,
    /// The month.
    pub month: Period,
    /// Sales booked in the month (sales records).
    pub booked_sales: i64,
    /// Their gross profit.
    pub gross_profit: i64,
    /// Amount of the deals won in the month (booked or not yet).
    pub won_amount: i64,
    /// Open deals expected to close in the month.
    pub pipeline_deals: i64,
    /// Their amount.
    pub pipeline_amount: i64,
    /// Their amount times their stage's probability, rounded to the minor unit.
    pub weighted_amount: i64,
    /// Of those deals, the ones whose expected date has passed.
    pub overdue_deals: i64,
    /// The month's sales target.
    pub target: Option<i64>,
    /// The month's gross profit target.
    pub profit_target: Option<i64>,
}

impl Forecast {
    /// Where the month should land: booked sales plus the weighted pipeline.
    pub fn landing(&self) -> i64 {
        self.booked_sales + self.weighted_amount
    }
}

/// The forecast of every subject for `month`: one statement for booked
/// sales, won deals and the pipeline, one for the targets (the KPI rules).
pub async fn rows(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    tz: Tz,
    today: NaiveDate,
    stages: &[crate::plugins::Stage],
    subjects: &[Subject],
    month: Period,
) -> AppResult<Vec<Forecast>> {
    let base = kpi::targets(db, company_id, tz, today, subjects, &[month]).await?;
    let mut out: Vec<Forecast> = base
        .iter()
        .map(|r| Forecast {
            subject: r.subject,
            month,
            booked_sales: 0,
            gross_profit: 0,
            won_amount: 0,
            pipeline_deals: 0,
            pipeline_amount: 0,
            weighted_amount: 0,
            overdue_deals: 0,
            target: r.targets.get("sales_amount").copied(),
            profit_target: r.targets.get("gross_profit").copied(),
        })
        .collect();
    if subjects.is_empty() {
        return Ok(out);
    }
    let mut p = Params::new(db.get_database_backend(), company_id);
    let g = kpi::groups_cte(&mut p, subjects);
    let mut st: Vec<String> = stages
        .iter()
        .map(|s| format!("({}, {})", p.push(s.key.clone()), s.probability))
        .collect();
    if st.is_empty() {
        st.push("('', 0)".into());
    }
    let (d0, d1, day) = (p.push(month.start), p.push(month.end), p.push(today));
    let (lo, hi) = month.bounds(tz);
    let (lo, hi) = (p.push(lo), p.push(hi));
    // Each figure is summed per member first, over the members that count
    // (a semi-join the planner can drive through the owner indexes), then
    // per subject: a team's thousand members join a thousand sums, not every deal.
    let sql = format!(
        "WITH RECURSIVE {}, st(stage, prob) AS (VALUES {}),
        pipe AS (
          SELECT g.gk, SUM(x.n) AS n, SUM(x.amount) AS amount, SUM(x.weighted) AS weighted, SUM(x.overdue) AS overdue
          FROM (SELECT d.owner_id, COUNT(*) AS n, SUM(d.amount) AS amount,
                       SUM(d.amount * COALESCE(st.prob, 0)) AS weighted,
                       SUM(CASE WHEN d.expected_close_date < {day} THEN 1 ELSE 0 END) AS overdue
                FROM deal d LEFT JOIN st ON st.stage = d.stage
                WHERE d.company_id = $1 AND d.deleted_at IS NULL AND d.status = 'open'
                  AND d.expected_close_date >= {d0} AND d.expected_close_date < {d1}
                  AND d.owner_id IN (SELECT member_id FROM g)
                GROUP BY d.owner_id) x
          JOIN g ON g.member_id = x.owner_id GROUP BY g.gk),
        booked AS (
          SELECT g.gk, SUM(x.amount) AS amount, SUM(x.profit) AS profit
          FROM (SELECT s.member_id, SUM(s.amount) AS amount, SUM(s.gross_profit) AS profit
                FROM sales_record s
                WHERE s.company_id = $1 AND s.sold_on >= {d0} AND s.sold_on < {d1}
                  AND s.member_id IN (SELECT member_id FROM g)
                GROUP BY s.member_id) x
          JOIN g ON g.member_id = x.member_id GROUP BY g.gk),
        won AS (
          SELECT g.gk, SUM(x.amount) AS amount
          FROM (SELECT d.owner_id, SUM(COALESCE(d.amount, 0)) AS amount
                FROM deal d
                WHERE d.company_id = $1 AND d.deleted_at IS NULL AND d.status = 'won'
                  AND d.closed_at >= {lo} AND d.closed_at < {hi}
                  AND d.owner_id IN (SELECT member_id FROM g)
                GROUP BY d.owner_id) x
          JOIN g ON g.member_id = x.owner_id GROUP BY g.gk),
        gs AS (SELECT DISTINCT gk FROM g)
        SELECT CAST(gs.gk AS BIGINT), CAST(COALESCE(pipe.n, 0) AS BIGINT),
               CAST(COALESCE(pipe.amount, 0) AS BIGINT), CAST(COALESCE(pipe.weighted, 0) AS BIGINT),
               CAST(COALESCE(pipe.overdue, 0) AS BIGINT), CAST(COALESCE(booked.amount, 0) AS BIGINT),
               CAST(COALESCE(booked.profit, 0) AS BIGINT), CAST(COALESCE(won.amount, 0) AS BIGINT)
        FROM gs LEFT JOIN pipe ON pipe.gk = gs.gk LEFT JOIN booked ON booked.gk = gs.gk
        LEFT JOIN won ON won.gk = gs.gk",
        g,
        st.join(", ")
    );
    for r in db.query_all_raw(p.statement(sql)).await? {
        let gk: i64 = r.try_get_by_index(0)?;
        let row = &mut out[gk as usize];
        row.pipeline_deals = r.try_get_by_index(1)?;
        row.pipeline_amount = r.try_get_by_index(2)?;
        let weighted: i64 = r.try_get_by_index(3)?;
        // Percent times amount, back to the minor unit, rounded half up.
        row.weighted_amount = (weighted + 50).div_euclid(100);
        row.overdue_deals = r.try_get_by_index(4)?;
        row.booked_sales = r.try_get_by_index(5)?;
        row.gross_profit = r.try_get_by_index(6)?;
        row.won_amount = r.try_get_by_index(7)?;
    }
    Ok(out)
}

/// Takes this week's snapshot of this month's forecast for every active
/// member and live team of the company; a second run in the same week
/// updates the week's row. Returns the rows written.
pub async fn snapshot_company(
    db: &impl ConnectionTrait,
    company: &company::Model,
    stages: &[crate::plugins::Stage],
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let tz = super::period::company_zone(&company.time_zone);
    let today = now.with_timezone(&tz).date_naive();
    let month = Period::containing(PeriodKind::Month, today);
    let week = Period::containing(PeriodKind::Week, today).start;
    let members: Vec<Uuid> = member::Entity::find()
        .select_only()
        .column(member::Column::Id)
        .filter(member::Column::CompanyId.eq(company.id))
        .filter(member::Column::Active.eq(true))
        .order_by_asc(member::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let teams: Vec<Uuid> = team::Entity::find()
        .select_only()
        .column(team::Column::Id)
        .filter(team::Column::CompanyId.eq(company.id))
        .filter(team::Column::DeletedAt.is_null())
        .order_by_asc(team::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let subjects: Vec<Subject> = members
        .into_iter()
        .map(Subject::Member)
        .chain(teams.into_iter().map(Subject::Team))
        .collect();
    let mut written = 0;
    // Bounded statements whatever the company's size.
    for chunk in subjects.chunks(200) {
        let found = rows(db, company.id, tz, today, stages, chunk, month).await?;
        let models: Vec<forecast_snapshot::ActiveModel> = found
            .iter()
            .map(|f| {
                let (kind, id) = match f.subject {
                    Subject::Member(id) => ("member", id),
                    Subject::Team(id) => ("team", id),
                };
                forecast_snapshot::ActiveModel {
                    id: sea_orm::Set(new_id()),
                    company_id: sea_orm::Set(company.id),
                    subject_kind: sea_orm::Set(kind.into()),
                    subject_id: sea_orm::Set(id),
                    month: sea_orm::Set(month.start),
                    week_start: sea_orm::Set(week),
                    booked_sales: sea_orm::Set(f.booked_sales),
                    gross_profit: sea_orm::Set(f.gross_profit),
                    pipeline_deals: sea_orm::Set(f.pipeline_deals),
                    pipeline_amount: sea_orm::Set(f.pipeline_amount),
                    weighted_amount: sea_orm::Set(f.weighted_amount),
                    target: sea_orm::Set(f.target),
                    taken_at: sea_orm::Set(now),
                }
            })
            .collect();
        written += models.len();
        forecast_snapshot::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([
                    forecast_snapshot::Column::CompanyId,
                    forecast_snapshot::Column::SubjectKind,
                    forecast_snapshot::Column::SubjectId,
                    forecast_snapshot::Column::Month,
                    forecast_snapshot::Column::WeekStart,
                ])
                .update_columns([
                    forecast_snapshot::Column::BookedSales,
                    forecast_snapshot::Column::GrossProfit,
                    forecast_snapshot::Column::PipelineDeals,
                    forecast_snapshot::Column::PipelineAmount,
                    forecast_snapshot::Column::WeightedAmount,
                    forecast_snapshot::Column::Target,
                    forecast_snapshot::Column::TakenAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(written)
}

/// Snapshots every company (each with its own process's probabilities).
pub async fn snapshot_all(db: &DatabaseConnection, plugins: &Plugins) -> AppResult<usize> {
    let companies = company::Entity::find().all(db).await?;
    let mut written = 0;
    for c in companies {
        let set = super::process::set_of(db, plugins, &c).await?;
        written += snapshot_company(db, &c, &set.process.stages, super::now()).await?;
    }
    Ok(written)
}

/// Refreshes the snapshots every `every` for the life of the server; any
/// replica may run it, the unique week row makes the runs agree.
pub fn spawn(db: DatabaseConnection, plugins: std::sync::Arc<Plugins>, every: StdDuration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match snapshot_all(&db, &plugins).await {
                Ok(n) => tracing::debug!(rows = n, "forecast snapshots taken"),
                Err(e) => tracing::warn!(error = %e.message(), "forecast snapshots failed; retried at the next tick"),
            }
        }
    });
}
