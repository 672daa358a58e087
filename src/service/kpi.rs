//! KPIs: the base metrics of a row (one member or team over one period) are
//! summed by the database in one statement for every row asked for, the
//! targets in a second; the company's formulas (`kpi.rhai`) then run once per
//! row, never once per activity.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use entity::{enums::PeriodKind, member, team};
use rhai::{Dynamic, Map};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{Actor, period::Period, plan::Subject, sql::Params};
use crate::{
    error::{AppError, AppResult},
    plugins::PluginSet,
};

/// A base metric: its key (as formulas and targets name it), the part of the
/// statement that computes it, and what it counts.
pub struct BaseMetric {
    /// Key in the formula's `m` map and in targets.
    pub key: &'static str,
    /// The common table expression of [`METRICS_SQL`] that computes it.
    source: &'static str,
    /// What it counts, for the schema and the plugin contract.
    pub description: &'static str,
}

const fn metric(key: &'static str, source: &'static str, description: &'static str) -> BaseMetric {
    BaseMetric {
        key,
        source,
        description,
    }
}

/// Every base metric, in the order the statement returns them. Counts are
/// integers; money is in minor units of the company currency.
pub const BASE_METRICS: &[BaseMetric] = &[
    metric(
        "activities_planned",
        "sched",
        "Activities scheduled in the period, not cancelled",
    ),
    metric(
        "visits_planned",
        "sched",
        "Visits scheduled in the period, not cancelled",
    ),
    metric(
        "appointments",
        "booked",
        "Visits booked in the period for a later time (appointments gained), not cancelled",
    ),
    metric("activities_done", "done", "Activities done in the period"),
    metric("visits_done", "done", "Visits done in the period"),
    metric("calls_done", "done", "Calls done in the period"),
    metric("emails_done", "done", "E-mails done in the period"),
    metric("web_meetings_done", "done", "Web meetings done in the period"),
    metric("seminars_done", "done", "Seminars done in the period"),
    metric("priority_visits", "done", "Visits done to priority customers"),
    metric(
        "priority_visit_days",
        "pdays",
        "Days with at least one visit to a priority customer",
    ),
    metric(
        "customers_contacted",
        "done",
        "Distinct customers with an activity done",
    ),
    metric("energy", "done", "Energy points of the activities done"),
    metric(
        "focus_proposals",
        "focus",
        "Focus products proposed in the activities done (one per activity and product)",
    ),
    metric("focus_products", "focus", "Distinct focus products proposed"),
    metric("deals_created", "opened", "Deals created in the period"),
    metric(
        "deals_created_amount",
        "opened",
        "Amount of the deals created in the period",
    ),
    metric("deals_won", "closed", "Deals won in the period"),
    metric("deals_won_amount", "closed", "Amount of the deals won in the period"),
    metric("deals_lost", "closed", "Deals lost in the period"),
    metric("deals_lost_amount", "closed", "Amount of the deals lost in the period"),
    metric("sales_amount", "sales", "Sales booked in the period (sales records)"),
    metric(
        "gross_profit",
        "sales",
        "Gross profit booked in the period (sales records)",
    ),
];

/// Values the server adds to every row besides the aggregated metrics.
pub const PERIOD_VALUES: &[(&str, &str)] = &[
    ("days_total", "Days in the period"),
    (
        "days_elapsed",
        "Days of the period up to today, in the company's time zone",
    ),
];

/// The aggregation, with `{b}` (periods), `{dd}` (their days), `{g}`
/// (group → member) and `{gs}` (groups) to be filled with VALUES lists.
/// Every fact joins a period by a range on its own time column, so the
/// company's time zone decides which period a row falls into.
const METRICS_SQL: &str = "WITH RECURSIVE {g},
b(bk, lo, hi, d0, d1) AS (VALUES {b}),
dd(bk, di, lo, hi) AS (VALUES {dd}),
gs(gk) AS (VALUES {gs}),
sched AS (
  SELECT g.gk, b.bk, COUNT(*) AS activities_planned,
         SUM(CASE WHEN a.kind = 'visit' THEN 1 ELSE 0 END) AS visits_planned
  FROM activity a JOIN g ON g.member_id = a.member_id
  JOIN b ON a.scheduled_at >= b.lo AND a.scheduled_at < b.hi
  WHERE a.company_id = $1 AND a.deleted_at IS NULL AND a.status <> 'cancelled'
  GROUP BY g.gk, b.bk),
booked AS (
  SELECT g.gk, b.bk, COUNT(*) AS appointments
  FROM activity a JOIN g ON g.member_id = a.member_id
  JOIN b ON a.created_at >= b.lo AND a.created_at < b.hi
  WHERE a.company_id = $1 AND a.deleted_at IS NULL AND a.status <> 'cancelled'
    AND a.kind = 'visit' AND a.scheduled_at > a.created_at
  GROUP BY g.gk, b.bk),
done AS (
  SELECT g.gk, b.bk, COUNT(*) AS activities_done,
         SUM(CASE WHEN a.kind = 'visit' THEN 1 ELSE 0 END) AS visits_done,
         SUM(CASE WHEN a.kind = 'call' THEN 1 ELSE 0 END) AS calls_done,
         SUM(CASE WHEN a.kind = 'email' THEN 1 ELSE 0 END) AS emails_done,
         SUM(CASE WHEN a.kind = 'web_meeting' THEN 1 ELSE 0 END) AS web_meetings_done,
         SUM(CASE WHEN a.kind = 'seminar' THEN 1 ELSE 0 END) AS seminars_done,
         SUM(CASE WHEN a.kind = 'visit' AND c.is_priority THEN 1 ELSE 0 END) AS priority_visits,
         COUNT(DISTINCT a.customer_id) AS customers_contacted,
         SUM(COALESCE(a.energy_points, 0)) AS energy
  FROM activity a JOIN g ON g.member_id = a.member_id
  JOIN b ON a.done_at >= b.lo AND a.done_at < b.hi
  JOIN customer c ON c.id = a.customer_id
  WHERE a.company_id = $1 AND a.deleted_at IS NULL AND a.status = 'done'
  GROUP BY g.gk, b.bk),
pdays AS (
  SELECT g.gk, dd.bk, COUNT(DISTINCT dd.di) AS priority_visit_days
  FROM activity a JOIN g ON g.member_id = a.member_id
  JOIN customer c ON c.id = a.customer_id
  JOIN b ON a.done_at >= b.lo AND a.done_at < b.hi
  JOIN dd ON dd.bk = b.bk AND a.done_at >= dd.lo AND a.done_at < dd.hi
  WHERE a.company_id = $1 AND a.deleted_at IS NULL AND a.status = 'done' AND a.kind = 'visit'
    AND c.is_priority
  GROUP BY g.gk, dd.bk),
focus AS (
  SELECT g.gk, b.bk, COUNT(*) AS focus_proposals, COUNT(DISTINCT ap.product_id) AS focus_products
  FROM activity_product ap JOIN activity a ON a.id = ap.activity_id
  JOIN product p ON p.id = ap.product_id
  JOIN g ON g.member_id = a.member_id
  JOIN b ON a.done_at >= b.lo AND a.done_at < b.hi
  WHERE a.company_id = $1 AND a.deleted_at IS NULL AND a.status = 'done' AND p.is_focus
  GROUP BY g.gk, b.bk),
opened AS (
  SELECT g.gk, b.bk, COUNT(*) AS deals_created, SUM(COALESCE(d.amount, 0)) AS deals_created_amount
  FROM deal d JOIN g ON g.member_id = d.owner_id
  JOIN b ON d.created_at >= b.lo AND d.created_at < b.hi
  WHERE d.company_id = $1 AND d.deleted_at IS NULL
  GROUP BY g.gk, b.bk),
closed AS (
  SELECT g.gk, b.bk,
         SUM(CASE WHEN d.status = 'won' THEN 1 ELSE 0 END) AS deals_won,
         SUM(CASE WHEN d.status = 'won' THEN COALESCE(d.amount, 0) ELSE 0 END) AS deals_won_amount,
         SUM(CASE WHEN d.status = 'lost' THEN 1 ELSE 0 END) AS deals_lost,
         SUM(CASE WHEN d.status = 'lost' THEN COALESCE(d.amount, 0) ELSE 0 END) AS deals_lost_amount
  FROM deal d JOIN g ON g.member_id = d.owner_id
  JOIN b ON d.closed_at >= b.lo AND d.closed_at < b.hi
  WHERE d.company_id = $1 AND d.deleted_at IS NULL AND d.status IN ('won', 'lost')
  GROUP BY g.gk, b.bk),
sales AS (
  SELECT g.gk, b.bk, SUM(s.amount) AS sales_amount, SUM(s.gross_profit) AS gross_profit
  FROM sales_record s JOIN g ON g.member_id = s.member_id
  JOIN b ON s.sold_on >= b.d0 AND s.sold_on < b.d1
  WHERE s.company_id = $1
  GROUP BY g.gk, b.bk)
SELECT CAST(gs.gk AS BIGINT) AS gk, CAST(b.bk AS BIGINT) AS bk, {columns}
FROM gs CROSS JOIN b
LEFT JOIN sched ON sched.gk = gs.gk AND sched.bk = b.bk
LEFT JOIN booked ON booked.gk = gs.gk AND booked.bk = b.bk
LEFT JOIN done ON done.gk = gs.gk AND done.bk = b.bk
LEFT JOIN pdays ON pdays.gk = gs.gk AND pdays.bk = b.bk
LEFT JOIN focus ON focus.gk = gs.gk AND focus.bk = b.bk
LEFT JOIN opened ON opened.gk = gs.gk AND opened.bk = b.bk
LEFT JOIN closed ON closed.gk = gs.gk AND closed.bk = b.bk
LEFT JOIN sales ON sales.gk = gs.gk AND sales.bk = b.bk";

/// One aggregated row: a member or team over a period.
#[derive(Debug, Clone)]
pub struct Row {
    /// Who.
    pub subject: Subject,
    /// When.
    pub period: Period,
    /// Days of the period up to today (company time zone).
    pub days_elapsed: i64,
    /// Values of [`BASE_METRICS`], in that order.
    pub metrics: Vec<i64>,
    /// Targets of the row by metric key.
    pub targets: BTreeMap<String, i64>,
}

impl Row {
    /// The value of a base metric.
    pub fn metric(&self, key: &str) -> Option<i64> {
        BASE_METRICS.iter().position(|m| m.key == key).map(|i| self.metrics[i])
    }

    /// The map a formula receives as `m`.
    pub fn formula_input(&self) -> Map {
        let mut m: Map = BASE_METRICS
            .iter()
            .zip(&self.metrics)
            .map(|(def, v)| (def.key.into(), Dynamic::from(*v)))
            .collect();
        m.insert("days_total".into(), self.period.days().into());
        m.insert("days_elapsed".into(), self.days_elapsed.into());
        let targets: Map = self
            .targets
            .iter()
            .map(|(k, v)| (k.as_str().into(), Dynamic::from(*v)))
            .collect();
        m.insert("target".into(), targets.into());
        m
    }
}

/// A KPI's value on one row.
#[derive(Debug, Clone)]
pub struct KpiValue {
    /// The KPI key.
    pub key: String,
    /// Its value; `None` when the formula gave none or failed.
    pub value: Option<f64>,
    /// Why the formula failed (the row's other KPIs still have their values).
    pub error: Option<String>,
}

/// Runs every KPI formula of `set` once over `row`.
pub fn evaluate(set: &PluginSet, row: &Row) -> Vec<KpiValue> {
    let input = row.formula_input();
    set.process
        .kpis
        .iter()
        .map(|kpi| match set.kpi(kpi, input.clone()) {
            Ok(value) => KpiValue {
                key: kpi.key.clone(),
                value,
                error: None,
            },
            Err(e) => KpiValue {
                key: kpi.key.clone(),
                value: None,
                error: Some(e.message()),
            },
        })
        .collect()
}

/// Two sample rows for trying formulas without data: an empty one (nothing
/// done, no targets) and a busy one (every metric set, targets of visits and
/// sales, half the month gone).
pub fn sample_rows() -> [Row; 2] {
    let month = Period::containing(PeriodKind::Month, chrono::Utc::now().date_naive());
    let empty = Row {
        subject: Subject::Member(Uuid::nil()),
        period: month,
        days_elapsed: 0,
        metrics: vec![0; BASE_METRICS.len()],
        targets: BTreeMap::new(),
    };
    let busy = Row {
        days_elapsed: month.days() / 2,
        metrics: (1..=BASE_METRICS.len() as i64).map(|i| i * 7).collect(),
        targets: [("visits_done", 40), ("sales_amount", 3_000_000)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        ..empty.clone()
    };
    [empty, busy]
}

/// The KPIs of `set` that fail on a [`sample_rows`] row, each once as (KPI key, why).
pub fn sample_failures(set: &PluginSet) -> Vec<(String, String)> {
    let mut failures: Vec<(String, String)> = Vec::new();
    for row in &sample_rows() {
        for value in evaluate(set, row) {
            if let Some(e) = value.error
                && !failures.iter().any(|(k, _)| *k == value.key)
            {
                failures.push((value.key, e));
            }
        }
    }
    failures
}

/// Checks that the actor may see the KPIs of `subject`: themselves, members
/// of the teams they lead, those teams; admins everything. Everything the
/// rows sum is then something the actor may read.
pub async fn authorize(db: &impl ConnectionTrait, actor: &Actor, subject: Subject) -> AppResult<()> {
    match subject {
        Subject::Member(id) => {
            super::find_member(db, actor, id).await?;
            actor.require_answers_for(id, "see KPIs")
        }
        Subject::Team(id) => {
            super::find_live::<team::Entity>(db, actor, id).await?;
            if actor.is_admin() || actor.reach.led_teams.contains(&id) {
                Ok(())
            } else {
                Err(AppError::Forbidden(
                    "you can only see the KPIs of the teams you lead".into(),
                ))
            }
        }
    }
}

/// The members whose work counts for each subject: the member, or every
/// member of the team and the teams below it (past members' work counts
/// for the team they are in now).
pub(crate) async fn members_of(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    subjects: &[Subject],
) -> AppResult<Vec<Vec<Uuid>>> {
    if !subjects.iter().any(|s| matches!(s, Subject::Team(_))) {
        return Ok(subjects
            .iter()
            .map(|s| match s {
                Subject::Member(m) | Subject::Team(m) => vec![*m],
            })
            .collect());
    }
    let teams: Vec<(Uuid, Option<Uuid>)> = team::Entity::find()
        .select_only()
        .columns([team::Column::Id, team::Column::ParentId])
        .filter(team::Column::CompanyId.eq(company_id))
        .filter(team::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let members: Vec<(Uuid, Option<Uuid>)> = member::Entity::find()
        .select_only()
        .columns([member::Column::Id, member::Column::TeamId])
        .filter(member::Column::CompanyId.eq(company_id))
        .filter(member::Column::TeamId.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    Ok(subjects
        .iter()
        .map(|s| match s {
            Subject::Member(m) => vec![*m],
            Subject::Team(t) => {
                let mut subtree = HashSet::new();
                let mut queue = vec![*t];
                while let Some(t) = queue.pop() {
                    if subtree.insert(t) {
                        queue.extend(teams.iter().filter(|c| c.1 == Some(t)).map(|c| c.0));
                    }
                }
                members
                    .iter()
                    .filter(|(_, team)| team.is_some_and(|t| subtree.contains(&t)))
                    .map(|(id, _)| *id)
                    .collect()
            }
        })
        .collect())
}

/// The common table expressions `sub` and `g(gk, member_id)`: the members
/// whose work counts for each subject, as [`members_of`] finds them, but
/// resolved inside the statement, so a team of a thousand members binds one
/// value rather than a thousand. The statement must begin `WITH RECURSIVE`;
/// `subjects` must not be empty.
pub(crate) fn groups_cte(p: &mut Params, subjects: &[Subject]) -> String {
    let (mut teams, mut members) = (Vec::new(), Vec::new());
    for (gk, s) in subjects.iter().enumerate() {
        match s {
            Subject::Team(t) => teams.push(format!("({gk}, {})", p.push(*t))),
            Subject::Member(m) => members.push(format!("({gk}, {})", p.push(*m))),
        }
    }
    let (mut ctes, mut parts) = (Vec::new(), Vec::new());
    if !teams.is_empty() {
        // UNION, not UNION ALL: ends even if a damaged tree had a cycle.
        ctes.push(format!(
            "sub(gk, team_id) AS (VALUES {} UNION SELECT sub.gk, t.id FROM team t JOIN sub ON t.parent_id = sub.team_id \
             WHERE t.company_id = $1 AND t.deleted_at IS NULL)",
            teams.join(", ")
        ));
        parts.push(
            "SELECT sub.gk, m.id FROM sub JOIN member m ON m.team_id = sub.team_id WHERE m.company_id = $1".into(),
        );
    }
    if !members.is_empty() {
        parts.push(format!("VALUES {}", members.join(", ")));
    }
    ctes.push(format!("g(gk, member_id) AS ({})", parts.join(" UNION ALL ")));
    ctes.join(",\n")
}

/// The `b` and `dd` VALUES lists: each period's instants and dates, and each of its days.
/// Only what the statement uses is bound: an unused trailing value would let
/// two statements of the same text differ in their number of values, which
/// the driver's prepared-statement cache refuses.
fn period_values(p: &mut Params, periods: &[Period], tz: Tz, with_days: bool) -> (String, String) {
    let mut b = Vec::with_capacity(periods.len());
    let mut dd = Vec::new();
    for (bk, period) in periods.iter().enumerate() {
        let (lo, hi) = period.bounds(tz);
        b.push(format!(
            "({bk}, {}, {}, {}, {})",
            p.push(lo),
            p.push(hi),
            p.push(period.start),
            p.push(period.end)
        ));
        let mut day = period.start;
        while with_days && day < period.end {
            let next = day + Duration::days(1);
            let (lo, hi) = (super::period::midnight(tz, day), super::period::midnight(tz, next));
            dd.push(format!("({bk}, {}, {}, {})", dd.len(), p.push(lo), p.push(hi)));
            day = next;
        }
    }
    (b.join(", "), dd.join(", "))
}

/// A target found for a row: the team's own (or its members' sum), its period kind, its value.
type TargetCandidate = (bool, String, i64);

/// The target rules: a team's own target for a metric wins over the sum of
/// its members'; a period's targets are those of its own kind, else the
/// months (or quarters) that tile it.
fn pick_target(kind: PeriodKind, candidates: &[TargetCandidate]) -> Option<i64> {
    let tiles: &[&str] = match kind {
        PeriodKind::Day => &["day"],
        PeriodKind::Week => &["week"],
        PeriodKind::Month => &["month"],
        PeriodKind::Quarter => &["quarter", "month"],
        PeriodKind::Year => &["year", "quarter", "month"],
    };
    for own in [true, false] {
        for k in tiles {
            if let Some((_, _, v)) = candidates.iter().find(|(o, ck, _)| *o == own && ck == k) {
                return Some(*v);
            }
        }
    }
    None
}

/// Aggregates the base metrics and targets of every subject over every
/// period: two statements whatever the number of rows.
pub async fn rows(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    tz: Tz,
    today: NaiveDate,
    subjects: &[Subject],
    periods: &[Period],
) -> AppResult<Vec<Row>> {
    build(db, company_id, tz, today, subjects, periods, true).await
}

/// The rows with their targets only (metrics left at 0): one statement, for
/// views that compute their own figures but follow the same target rules.
pub async fn targets(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    tz: Tz,
    today: NaiveDate,
    subjects: &[Subject],
    periods: &[Period],
) -> AppResult<Vec<Row>> {
    build(db, company_id, tz, today, subjects, periods, false).await
}

async fn build(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    tz: Tz,
    today: NaiveDate,
    subjects: &[Subject],
    periods: &[Period],
    with_metrics: bool,
) -> AppResult<Vec<Row>> {
    let mut out: Vec<Row> = subjects
        .iter()
        .flat_map(|s| {
            periods.iter().map(|p| Row {
                subject: *s,
                period: *p,
                days_elapsed: p.days_elapsed(today),
                metrics: vec![0; BASE_METRICS.len()],
                targets: BTreeMap::new(),
            })
        })
        .collect();
    if periods.is_empty() || subjects.is_empty() {
        return Ok(out);
    }
    let backend = db.get_database_backend();
    let at = |gk: usize, bk: usize| gk * periods.len() + bk;

    // Base metrics.
    if with_metrics {
        let mut p = Params::new(backend, company_id);
        let g = groups_cte(&mut p, subjects);
        let (b, dd) = period_values(&mut p, periods, tz, true);
        let gs: Vec<String> = (0..subjects.len()).map(|gk| format!("({gk})")).collect();
        let columns: Vec<String> = BASE_METRICS
            .iter()
            .map(|m| format!("CAST(COALESCE({}.{}, 0) AS BIGINT) AS {}", m.source, m.key, m.key))
            .collect();
        let sql = METRICS_SQL
            .replace("{b}", &b)
            .replace("{dd}", &dd)
            .replace("{g}", &g)
            .replace("{gs}", &gs.join(", "))
            .replace("{columns}", &columns.join(", "));
        let found = db.query_all_raw(p.statement(sql)).await?;
        for r in found {
            let (gk, bk): (i64, i64) = (r.try_get("", "gk")?, r.try_get("", "bk")?);
            let row = &mut out[at(gk as usize, bk as usize)];
            for (i, m) in BASE_METRICS.iter().enumerate() {
                row.metrics[i] = r.try_get("", m.key)?;
            }
        }
    }

    // Targets: the members' summed per metric and kind, and the teams' own.
    let mut p = Params::new(backend, company_id);
    let g = groups_cte(&mut p, subjects);
    let (b, _) = period_values(&mut p, periods, tz, false);
    let gt: Vec<String> = subjects
        .iter()
        .enumerate()
        .filter_map(|(gk, s)| match s {
            Subject::Team(t) => Some((gk, *t)),
            Subject::Member(_) => None,
        })
        .map(|(gk, t)| format!("({gk}, {})", p.push(t)))
        .collect();
    let mut ctes = vec![g, format!("b(bk, lo, hi, d0, d1) AS (VALUES {b})")];
    let mut parts = vec![
        "SELECT CAST(g.gk AS BIGINT), CAST(b.bk AS BIGINT), t.metric, t.period_kind, 0, \
         CAST(SUM(t.value) AS BIGINT) \
         FROM target t JOIN g ON g.member_id = t.member_id \
         JOIN b ON t.period_start >= b.d0 AND t.period_start < b.d1 \
         WHERE t.company_id = $1 GROUP BY g.gk, b.bk, t.metric, t.period_kind",
    ];
    if !gt.is_empty() {
        ctes.push(format!("gt(gk, team_id) AS (VALUES {})", gt.join(", ")));
        parts.push(
            "SELECT CAST(gt.gk AS BIGINT), CAST(b.bk AS BIGINT), t.metric, t.period_kind, 1, \
             CAST(SUM(t.value) AS BIGINT) \
             FROM target t JOIN gt ON gt.team_id = t.team_id \
             JOIN b ON t.period_start >= b.d0 AND t.period_start < b.d1 \
             WHERE t.company_id = $1 GROUP BY gt.gk, b.bk, t.metric, t.period_kind",
        );
    }
    let sql = format!("WITH RECURSIVE {} {}", ctes.join(", "), parts.join(" UNION ALL "));
    let found = db.query_all_raw(p.statement(sql)).await?;
    let mut candidates: HashMap<(usize, String), Vec<TargetCandidate>> = HashMap::new();
    for r in found {
        let (gk, bk): (i64, i64) = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
        let metric: String = r.try_get_by_index(2)?;
        let kind: String = r.try_get_by_index(3)?;
        let own: i32 = r.try_get_by_index(4)?;
        let total: i64 = r.try_get_by_index(5)?;
        candidates
            .entry((at(gk as usize, bk as usize), metric))
            .or_default()
            .push((own == 1, kind, total));
    }
    for ((i, metric), found) in candidates {
        if let Some(v) = pick_target(out[i].period.kind, &found) {
            out[i].targets.insert(metric, v);
        }
    }
    Ok(out)
}
