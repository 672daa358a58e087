//! The pipeline: deals per stage now or on any past date (rebuilt from the
//! stage history), time spent in each stage, stage-to-stage conversion of
//! the deals created in a period, won and lost deals with the reasons, and
//! stalled deals. Every figure is aggregated by the database over the deals
//! the caller may read.

use chrono::{DateTime, Duration, Utc};
use entity::{customer, deal, enums::DealStatus, team};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Select, sea_query::Expr,
};
use uuid::Uuid;

use super::{Actor, access, find_live, plan::Subject, sql::Params};
use crate::{error::AppResult, plugins::StageOutcome};

/// Which deals a pipeline view covers (besides the caller's read rules).
#[derive(Debug, Default, Clone)]
pub struct DealScope {
    /// Deals owned by this member.
    pub owner_id: Option<Uuid>,
    /// Deals owned by members of this team or a team below it.
    pub team_id: Option<Uuid>,
    /// Deals of customers in this customer group.
    pub group_id: Option<Uuid>,
}

impl DealScope {
    /// Checks that the team named exists in the actor's company (NOT_FOUND
    /// otherwise), once, before any figure is computed.
    pub async fn check(&self, db: &impl ConnectionTrait, actor: &Actor) -> AppResult<()> {
        if let Some(t) = self.team_id {
            find_live::<team::Entity>(db, actor, t).await?;
        }
        Ok(())
    }

    /// The live deals of the scope that the actor may read.
    pub async fn select(&self, db: &impl ConnectionTrait, actor: &Actor) -> AppResult<Select<deal::Entity>> {
        let mut q = access::select::<deal::Entity>(actor).filter(deal::Column::DeletedAt.is_null());
        if let Some(o) = self.owner_id {
            q = q.filter(deal::Column::OwnerId.eq(o));
        }
        if let Some(t) = self.team_id {
            let members = super::kpi::members_of(db, actor.company_id, &[Subject::Team(t)]).await?;
            q = q.filter(deal::Column::OwnerId.is_in(members.into_iter().flatten()));
        }
        if let Some(g) = self.group_id {
            let customers = customer::Entity::find()
                .select_only()
                .column(customer::Column::Id)
                .filter(customer::Column::CompanyId.eq(actor.company_id))
                .filter(customer::Column::GroupId.eq(g))
                .into_query();
            q = q.filter(Condition::all().add(deal::Column::CustomerId.in_subquery(customers)));
        }
        Ok(q)
    }
}

/// Deals in one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageFigures {
    /// The stage key.
    pub stage: String,
    /// Deals in it.
    pub deals: i64,
    /// Distinct customers of those deals.
    pub customers: i64,
    /// Their amount.
    pub amount: i64,
    /// Their amount times the stage's probability.
    pub weighted: f64,
    /// How long they have been in it, on average (days).
    pub average_age_days: Option<f64>,
    /// The longest of them (days).
    pub oldest_age_days: Option<f64>,
}

/// The `st(stage, ord, prob)` VALUES list: open stages numbered in order,
/// won and after-sales stages after every open one, lost ones at -1.
fn stage_values(p: &mut Params, actor: &Actor) -> String {
    let stages = &actor.plugins.process.stages;
    let open = stages
        .iter()
        .filter(|s| s.outcome == StageOutcome::Open && !s.after_sales);
    let open_count = open.clone().count() as i32;
    let mut ord = 0;
    let rows: Vec<String> = stages
        .iter()
        .map(|s| {
            let o = match s.outcome {
                StageOutcome::Lost => -1,
                _ if s.after_sales || s.outcome == StageOutcome::Won => open_count,
                _ => {
                    ord += 1;
                    ord - 1
                }
            };
            format!("({}, {o}, {})", p.push(s.key.clone()), s.probability)
        })
        .collect();
    // A process always has stages; the guard keeps the VALUES list valid.
    if rows.is_empty() {
        return "('', -1, 0)".into();
    }
    rows.join(", ")
}

/// Deals per stage: now (from the deals) or as they stood at `as_of`
/// (rebuilt from the stage history: each deal in the stage its latest move
/// up to then put it in). Deals created later, and deleted deals, are not in
/// a past funnel; amounts are today's. One statement.
pub async fn stages(
    db: &impl ConnectionTrait,
    actor: &Actor,
    scope: &DealScope,
    as_of: Option<DateTime<Utc>>,
) -> AppResult<Vec<StageFigures>> {
    let deals = scope
        .select(db, actor)
        .await?
        .select_only()
        .columns([
            deal::Column::Id,
            deal::Column::CustomerId,
            deal::Column::Amount,
            deal::Column::Stage,
            deal::Column::StageEnteredAt,
            deal::Column::CreatedAt,
        ])
        .into_query();
    let backend = db.get_database_backend();
    let mut p = Params::new(backend, actor.company_id);
    let st = stage_values(&mut p, actor);
    let at = p.push(as_of.unwrap_or_else(super::now));
    let deals = p.embed(&deals);
    let current = match as_of {
        None => {
            format!("cur AS (SELECT d.customer_id, d.amount, d.stage, d.stage_entered_at AS entered FROM ({deals}) d)")
        }
        // A deal whose stage has not changed since then stood where it
        // stands now (every move sets `stage_entered_at` and writes the
        // history row with that time): only the deals moved since are looked
        // up in the history, one index probe each for their latest move by then.
        Some(_) => {
            let latest = if backend == DbBackend::Postgres {
                format!(
                    "d CROSS JOIN LATERAL (SELECT h.to_stage, h.changed_at FROM deal_stage_history h
                       WHERE h.deal_id = d.id AND h.changed_at <= {at}
                       ORDER BY h.changed_at DESC, h.id DESC LIMIT 1) h"
                )
            } else {
                format!(
                    "d JOIN deal_stage_history h ON h.id = (SELECT h2.id FROM deal_stage_history h2
                       WHERE h2.deal_id = d.id AND h2.changed_at <= {at}
                       ORDER BY h2.changed_at DESC, h2.id DESC LIMIT 1)"
                )
            };
            format!(
                "d AS ({deals}),
                cur AS (
                  SELECT d.customer_id, d.amount, d.stage, d.stage_entered_at AS entered
                  FROM d WHERE d.stage_entered_at <= {at}
                  UNION ALL
                  SELECT d.customer_id, d.amount, h.to_stage, h.changed_at FROM {latest}
                  WHERE d.stage_entered_at > {at} AND d.created_at <= {at})"
            )
        }
    };
    let age = p.days_between(&at, "cur.entered");
    let sql = format!(
        "WITH st(stage, ord, prob) AS (VALUES {st}), {current}
        SELECT cur.stage, COUNT(*), COUNT(DISTINCT cur.customer_id),
               CAST(COALESCE(SUM(cur.amount), 0) AS BIGINT),
               CAST(COALESCE(SUM(cur.amount * COALESCE(st.prob, 0)), 0) AS DOUBLE PRECISION) / 100.0,
               AVG({age}), MAX({age})
        FROM cur LEFT JOIN st ON st.stage = cur.stage
        GROUP BY cur.stage"
    );
    let rows = db.query_all_raw(p.statement(sql)).await?;
    let mut found = Vec::with_capacity(rows.len());
    for r in rows {
        found.push(StageFigures {
            stage: r.try_get_by_index(0)?,
            deals: r.try_get_by_index(1)?,
            customers: r.try_get_by_index(2)?,
            amount: r.try_get_by_index(3)?,
            weighted: r.try_get_by_index(4)?,
            average_age_days: r.try_get_by_index(5)?,
            oldest_age_days: r.try_get_by_index(6)?,
        });
    }
    Ok(in_process_order(
        actor,
        found,
        |f| &f.stage,
        |stage| StageFigures {
            stage,
            deals: 0,
            customers: 0,
            amount: 0,
            weighted: 0.0,
            average_age_days: None,
            oldest_age_days: None,
        },
    ))
}

/// One entry per stage of the process, in its order (empty stages made by
/// `empty`), then keys the process no longer has, sorted.
fn in_process_order<T>(
    actor: &Actor,
    mut found: Vec<T>,
    key: impl Fn(&T) -> &String,
    empty: impl Fn(String) -> T,
) -> Vec<T> {
    let mut out = Vec::with_capacity(found.len());
    for s in &actor.plugins.process.stages {
        match found.iter().position(|f| *key(f) == s.key) {
            Some(i) => out.push(found.swap_remove(i)),
            None => out.push(empty(s.key.clone())),
        }
    }
    found.sort_by(|a, b| key(a).cmp(key(b)));
    out.extend(found);
    out
}

/// How long deals stayed in one stage before leaving it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageDuration {
    /// The stage key.
    pub stage: String,
    /// Stays that ended in the period.
    pub stays: i64,
    /// Their average length (days).
    pub average_days: Option<f64>,
    /// Their median length (days).
    pub median_days: Option<f64>,
}

/// Time spent in each stage by the deals that left it between `lo` and
/// `hi`, from the stage history (a stay lasts from the move into the stage
/// to the move out of it). One statement; the median by row numbers, so it
/// is the same on both databases.
pub async fn durations(
    db: &impl ConnectionTrait,
    actor: &Actor,
    scope: &DealScope,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> AppResult<Vec<StageDuration>> {
    let deals = scope
        .select(db, actor)
        .await?
        .select_only()
        .column(deal::Column::Id)
        .into_query();
    let mut p = Params::new(db.get_database_backend(), actor.company_id);
    let deals = p.embed(&deals);
    let (lo, hi) = (p.push(lo), p.push(hi));
    let length = p.days_between(
        "h.changed_at",
        "LAG(h.changed_at) OVER (PARTITION BY h.deal_id ORDER BY h.changed_at, h.id)",
    );
    let sql = format!(
        "WITH x AS (
           SELECT h.from_stage AS stage, h.changed_at, {length} AS days
           FROM deal_stage_history h JOIN ({deals}) d ON d.id = h.deal_id
           WHERE h.company_id = $1),
         y AS (
           SELECT stage, days, ROW_NUMBER() OVER (PARTITION BY stage ORDER BY days) AS rn,
                  COUNT(*) OVER (PARTITION BY stage) AS n
           FROM x WHERE stage IS NOT NULL AND days IS NOT NULL AND changed_at >= {lo} AND changed_at < {hi})
         SELECT stage, COUNT(*), AVG(days), AVG(CASE WHEN rn = (n + 1) / 2 OR rn = (n + 2) / 2 THEN days END)
         FROM y GROUP BY stage"
    );
    let rows = db.query_all_raw(p.statement(sql)).await?;
    let mut found = Vec::with_capacity(rows.len());
    for r in rows {
        found.push(StageDuration {
            stage: r.try_get_by_index(0)?,
            stays: r.try_get_by_index(1)?,
            average_days: r.try_get_by_index(2)?,
            median_days: r.try_get_by_index(3)?,
        });
    }
    Ok(in_process_order(
        actor,
        found,
        |f| &f.stage,
        |stage| StageDuration {
            stage,
            stays: 0,
            average_days: None,
            median_days: None,
        },
    ))
}

/// How far the deals created in a period got.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// Deals created in the period.
    pub cohort: i64,
    /// Per open stage in process order: the deals that reached it or a later
    /// one (a deal that skipped a stage passed it).
    pub reached: Vec<(String, i64)>,
    /// Deals of the cohort won by now.
    pub won: i64,
    /// Deals of the cohort lost by now.
    pub lost: i64,
}

/// The funnel of the deals created between `lo` and `hi`: for each open
/// stage, how many reached it or went further, from the stage history. One
/// statement, grouped by the furthest stage each deal reached.
pub async fn conversion(
    db: &impl ConnectionTrait,
    actor: &Actor,
    scope: &DealScope,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> AppResult<Conversion> {
    let deals = scope
        .select(db, actor)
        .await?
        .select_only()
        .columns([deal::Column::Id, deal::Column::Status])
        .filter(deal::Column::CreatedAt.gte(lo))
        .filter(deal::Column::CreatedAt.lt(hi))
        .into_query();
    let mut p = Params::new(db.get_database_backend(), actor.company_id);
    let st = stage_values(&mut p, actor);
    let deals = p.embed(&deals);
    let sql = format!(
        "WITH st(stage, ord, prob) AS (VALUES {st}),
         d AS ({deals}),
         r AS (SELECT h.deal_id, MAX(st.ord) AS top
               FROM deal_stage_history h JOIN d ON d.id = h.deal_id JOIN st ON st.stage = h.to_stage
               WHERE h.company_id = $1 GROUP BY h.deal_id)
         SELECT CAST(COALESCE(r.top, -1) AS BIGINT), d.status, COUNT(*)
         FROM d LEFT JOIN r ON r.deal_id = d.id
         GROUP BY COALESCE(r.top, -1), d.status"
    );
    let rows = db.query_all_raw(p.statement(sql)).await?;
    let open: Vec<&str> = actor
        .plugins
        .process
        .stages
        .iter()
        .filter(|s| s.outcome == StageOutcome::Open && !s.after_sales)
        .map(|s| s.key.as_str())
        .collect();
    let mut out = Conversion {
        cohort: 0,
        reached: open.iter().map(|k| (k.to_string(), 0)).collect(),
        won: 0,
        lost: 0,
    };
    for r in rows {
        let top: i64 = r.try_get_by_index(0)?;
        let status: String = r.try_get_by_index(1)?;
        let n: i64 = r.try_get_by_index(2)?;
        out.cohort += n;
        match status.as_str() {
            "won" => out.won += n,
            "lost" => out.lost += n,
            _ => {}
        }
        for (i, reached) in out.reached.iter_mut().enumerate() {
            if top >= i as i64 {
                reached.1 += n;
            }
        }
    }
    Ok(out)
}

/// Deals won or lost in a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcomes {
    /// Deals won.
    pub won: i64,
    /// Their amount.
    pub won_amount: i64,
    /// Deals lost.
    pub lost: i64,
    /// Their amount.
    pub lost_amount: i64,
    /// Why deals were lost: reason, deals, amount; most frequent first.
    pub reasons: Vec<(String, i64, i64)>,
}

/// Deals closed between `lo` and `hi`, won and lost, with the lost reasons.
/// One statement.
pub async fn outcomes(
    db: &impl ConnectionTrait,
    actor: &Actor,
    scope: &DealScope,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> AppResult<Outcomes> {
    let rows: Vec<(DealStatus, Option<String>, i64, i64)> = scope
        .select(db, actor)
        .await?
        .select_only()
        .column(deal::Column::Status)
        .column(deal::Column::LostReason)
        .expr(Expr::cust("COUNT(*)"))
        .expr(Expr::cust("CAST(COALESCE(SUM(deal.amount), 0) AS BIGINT)"))
        .filter(deal::Column::Status.is_in([DealStatus::Won, DealStatus::Lost]))
        .filter(deal::Column::ClosedAt.gte(lo))
        .filter(deal::Column::ClosedAt.lt(hi))
        .group_by(deal::Column::Status)
        .group_by(deal::Column::LostReason)
        .into_tuple()
        .all(db)
        .await?;
    let mut out = Outcomes::default();
    for (status, reason, n, amount) in rows {
        if status == DealStatus::Won {
            out.won += n;
            out.won_amount += amount;
        } else {
            out.lost += n;
            out.lost_amount += amount;
            out.reasons.push((reason.unwrap_or_default(), n, amount));
        }
    }
    out.reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// Open deals stuck: in the same stage for more than `days` days, or with no
/// activity for that long (none at all counts from the deal's creation).
/// The longest in their stage first.
pub async fn stalled(
    db: &impl ConnectionTrait,
    actor: &Actor,
    scope: &DealScope,
    days: i64,
    first: u64,
    offset: u64,
) -> AppResult<(u64, Vec<deal::Model>)> {
    let cut = super::now() - Duration::days(days);
    let q = scope
        .select(db, actor)
        .await?
        .filter(deal::Column::Status.eq(DealStatus::Open))
        .filter(
            Condition::any()
                .add(deal::Column::StageEnteredAt.lt(cut))
                .add(deal::Column::LastActivityAt.lt(cut))
                .add(
                    Condition::all()
                        .add(deal::Column::LastActivityAt.is_null())
                        .add(deal::Column::CreatedAt.lt(cut)),
                ),
        );
    let total = q.clone().count(db).await?;
    let deals = q
        .order_by(deal::Column::StageEnteredAt, Order::Asc)
        .order_by(deal::Column::Id, Order::Asc)
        .limit(first)
        .offset(offset)
        .all(db)
        .await?;
    Ok((total, deals))
}
