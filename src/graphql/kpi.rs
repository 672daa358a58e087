//! KPIs as the company's `kpi.rhai` defines them, evaluated for a member or
//! team over a period.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use entity::{enums::PeriodKind, member, team};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    connection::parse_opt_id,
    context::{actor, db},
    loader::related,
    org::{Member, Team},
    scalars::Date,
};
use crate::{
    error::AppError,
    plugins::run,
    service::{
        Actor,
        kpi::{self, BASE_METRICS, PERIOD_VALUES},
        period::{self, Period},
        plan::Subject,
    },
};

/// A value KPI formulas read from `m`: a base metric the server sums in SQL,
/// or a value of the period.
#[derive(SimpleObject)]
pub struct BaseMetric {
    /// Key in the formula's `m` map (and in targets).
    pub key: String,
    /// What it counts.
    pub description: String,
}

/// Every value a KPI formula can read.
pub fn base_metrics() -> Vec<BaseMetric> {
    BASE_METRICS
        .iter()
        .map(|m| (m.key, m.description))
        .chain(PERIOD_VALUES.iter().copied())
        .map(|(key, description)| BaseMetric {
            key: key.into(),
            description: description.into(),
        })
        .collect()
}

/// A base metric on one row, with its target and the pace towards it when
/// one is set (seed 000: 40 visits a month means about 9 booked after the
/// first week).
#[derive(SimpleObject)]
pub struct MetricValue {
    /// Metric key.
    pub key: String,
    /// Its value (counts; money in minor units).
    pub value: f64,
    /// The target for the row's member or team and period.
    pub target: Option<f64>,
    /// Where the value should stand today at an even pace: the target times
    /// the share of the period's days elapsed.
    pub expected_by_now: Option<f64>,
    /// Whether the value is at or above `expectedByNow`.
    pub on_pace: Option<bool>,
    /// What is still missing to reach the target (0 once it is reached).
    pub remaining: Option<f64>,
    /// What each remaining day of the period must bring to reach the target;
    /// null once the period is over.
    pub needed_per_day: Option<f64>,
}

impl MetricValue {
    fn new(key: &str, value: i64, target: Option<i64>, days_total: i64, days_elapsed: i64) -> Self {
        let value = value as f64;
        let target = target.map(|t| t as f64);
        let expected = target.map(|t| t * days_elapsed as f64 / days_total.max(1) as f64);
        let remaining = target.map(|t| (t - value).max(0.0));
        let days_left = days_total - days_elapsed;
        Self {
            key: key.into(),
            value,
            target,
            expected_by_now: expected,
            on_pace: expected.map(|e| value >= e),
            remaining,
            needed_per_day: remaining.filter(|_| days_left > 0).map(|r| r / days_left as f64),
        }
    }
}

/// A KPI on one row.
#[derive(SimpleObject)]
#[graphql(name = "KpiValue")]
pub struct KpiResult {
    /// KPI key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Display unit.
    pub unit: Option<String>,
    /// Its value; null when the formula gives none (no target set…) or failed.
    pub value: Option<f64>,
    /// Why the formula failed: the other KPIs of the row keep their values.
    pub error: Option<String>,
}

/// A member or team over a period: base metrics, targets and KPIs.
pub struct KpiRow {
    row: kpi::Row,
    kpis: Vec<KpiResult>,
}

impl KpiRow {
    /// Pairs a row with its evaluated KPIs and their definitions.
    pub fn new(row: kpi::Row, values: Vec<kpi::KpiValue>, defs: &[crate::plugins::Kpi]) -> Self {
        let kpis = defs
            .iter()
            .zip(values)
            .map(|(def, v)| KpiResult {
                key: v.key,
                name: def.name.clone(),
                unit: def.unit.clone(),
                value: v.value,
                error: v.error,
            })
            .collect();
        Self { row, kpis }
    }

    fn metric_value(&self, i: usize) -> MetricValue {
        let key = BASE_METRICS[i].key;
        MetricValue::new(
            key,
            self.row.metrics[i],
            self.row.targets.get(key).copied(),
            self.row.period.days(),
            self.row.days_elapsed,
        )
    }
}

#[Object]
impl KpiRow {
    /// The member, when the row is one member's.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        match self.row.subject {
            Subject::Member(id) => Ok(Some(Member(related::<member::Entity>(ctx, id).await?))),
            Subject::Team(_) => Ok(None),
        }
    }
    /// The team, when the row is a team's (its members and sub-teams' members).
    async fn team(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Team>> {
        match self.row.subject {
            Subject::Team(id) => Ok(Some(Team(related::<team::Entity>(ctx, id).await?))),
            Subject::Member(_) => Ok(None),
        }
    }
    /// Day, week, month, quarter or year.
    async fn period_kind(&self) -> PeriodKind {
        self.row.period.kind
    }
    /// First day of the period (company time zone).
    async fn period_start(&self) -> Date {
        Date(self.row.period.start)
    }
    /// Last day of the period.
    async fn period_end(&self) -> Date {
        Date(self.row.period.last_day())
    }
    /// Days in the period.
    async fn days_total(&self) -> i64 {
        self.row.period.days()
    }
    /// Days of the period up to today, in the company's time zone.
    async fn days_elapsed(&self) -> i64 {
        self.row.days_elapsed
    }
    /// Every base metric, with its target.
    async fn metrics(&self) -> Vec<MetricValue> {
        (0..BASE_METRICS.len()).map(|i| self.metric_value(i)).collect()
    }
    /// One base metric by key (null for an unknown key).
    async fn metric(&self, key: String) -> Option<MetricValue> {
        BASE_METRICS
            .iter()
            .position(|m| m.key == key)
            .map(|i| self.metric_value(i))
    }
    /// The company's KPIs, in their defined order.
    async fn kpis(&self) -> &[KpiResult] {
        &self.kpis
    }
    /// One KPI by key (null for an unknown key).
    async fn kpi(&self, key: String) -> Option<&KpiResult> {
        self.kpis.iter().find(|k| k.key == key)
    }
}

/// How `kpiBreakdown` cuts a period.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum KpiSplit {
    /// One row per day of the period.
    Day,
    /// One row per week (Monday to Sunday), the first and last cut at the period's edges.
    Week,
    /// One row per member of the team and the teams below it (needs `teamId`).
    Member,
}

/// Most rows one breakdown returns.
const MAX_BREAKDOWN_ROWS: usize = 1_000;

/// The subject a KPI, forecast or calendar query names: a member, a team, or the caller.
pub(crate) fn subject(actor: &Actor, member_id: Option<&ID>, team_id: Option<&ID>) -> async_graphql::Result<Subject> {
    Ok(
        match (parse_opt_id(member_id, "Member")?, parse_opt_id(team_id, "Team")?) {
            (Some(m), None) => Subject::Member(m),
            (None, Some(t)) => Subject::Team(t),
            (None, None) => Subject::Member(actor.member_id),
            (Some(_), Some(_)) => return Err(AppError::bad("give at most one of `memberId` and `teamId`").into()),
        },
    )
}

/// The period a KPI query names: the one starting on `start`, or the current one.
fn period_of(actor: &Actor, kind: PeriodKind, start: Option<Date>) -> async_graphql::Result<Period> {
    Ok(match start {
        Some(start) => Period::starting(kind, start.0)?,
        None => Period::containing(kind, period::today(actor.time_zone)),
    })
}

/// Runs the company's formulas over every row, in one blocking task.
async fn evaluate(actor: &Actor, rows: Vec<kpi::Row>) -> async_graphql::Result<Vec<KpiRow>> {
    let set = Arc::clone(&actor.plugins);
    let evaluated = run(&actor.scripts, move || {
        Ok(rows
            .into_iter()
            .map(|row| {
                let values = kpi::evaluate(&set, &row);
                (row, values)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(evaluated
        .into_iter()
        .map(|(row, values)| KpiRow::new(row, values, &actor.plugins.process.kpis))
        .collect())
}

/// KPI queries.
#[derive(Default)]
pub struct KpiQuery;

#[Object]
impl KpiQuery {
    /// The KPIs of a member or team over one period: base metrics summed by
    /// the database, targets, and the company's formulas evaluated once for
    /// the row. Without `memberId` or `teamId`: your own. Without
    /// `periodStart`: the current period in the company's time zone. You see
    /// your own KPIs and those of the teams you lead and their members.
    async fn kpi_report(
        &self,
        ctx: &Context<'_>,
        member_id: Option<ID>,
        team_id: Option<ID>,
        #[graphql(default_with = "PeriodKind::Month")] period_kind: PeriodKind,
        #[graphql(desc = "First day of the period (a Monday for weeks, the 1st for months…).")] period_start: Option<
            Date,
        >,
    ) -> async_graphql::Result<KpiRow> {
        let actor = actor(ctx)?;
        let subject = subject(actor, member_id.as_ref(), team_id.as_ref())?;
        let period = period_of(actor, period_kind, period_start)?;
        let db = db(ctx)?;
        kpi::authorize(db, actor, subject).await?;
        let today = period::today(actor.time_zone);
        let rows = kpi::rows(db, actor.company_id, actor.time_zone, today, &[subject], &[period]).await?;
        evaluate(actor, rows)
            .await?
            .pop()
            .ok_or_else(|| AppError::Internal("no KPI row".into()).into())
    }

    /// The same figures cut into rows: per day or week of the period, or per
    /// member of a team. All rows are summed in the same two statements and
    /// the formulas run once per row.
    async fn kpi_breakdown(
        &self,
        ctx: &Context<'_>,
        member_id: Option<ID>,
        team_id: Option<ID>,
        #[graphql(default_with = "PeriodKind::Month")] period_kind: PeriodKind,
        #[graphql(desc = "First day of the period; default: the current one.")] period_start: Option<Date>,
        by: KpiSplit,
    ) -> async_graphql::Result<Vec<KpiRow>> {
        let actor = actor(ctx)?;
        let subject = subject(actor, member_id.as_ref(), team_id.as_ref())?;
        let period = period_of(actor, period_kind, period_start)?;
        let db = db(ctx)?;
        kpi::authorize(db, actor, subject).await?;
        let (subjects, periods) = match (by, subject) {
            (KpiSplit::Day, _) => (vec![subject], period.split(PeriodKind::Day)),
            (KpiSplit::Week, _) => (vec![subject], period.split(PeriodKind::Week)),
            (KpiSplit::Member, Subject::Team(_)) => {
                let members = kpi::members_of(db, actor.company_id, &[subject]).await?;
                let ids = members.into_iter().flatten().collect::<Vec<_>>();
                let ordered: Vec<uuid::Uuid> = member::Entity::find()
                    .select_only()
                    .column(member::Column::Id)
                    .filter(member::Column::Id.is_in(ids))
                    .order_by_asc(member::Column::Name)
                    .order_by_asc(member::Column::Id)
                    .into_tuple()
                    .all(db)
                    .await?;
                (ordered.into_iter().map(Subject::Member).collect(), vec![period])
            }
            (KpiSplit::Member, Subject::Member(_)) => {
                return Err(AppError::bad("a breakdown by member needs `teamId`").into());
            }
        };
        if subjects.len() * periods.len() > MAX_BREAKDOWN_ROWS {
            return Err(AppError::bad(format!(
                "the breakdown would have more than {MAX_BREAKDOWN_ROWS} rows; choose a shorter period"
            ))
            .into());
        }
        let today = period::today(actor.time_zone);
        let rows = kpi::rows(db, actor.company_id, actor.time_zone, today, &subjects, &periods).await?;
        evaluate(actor, rows).await
    }
}
