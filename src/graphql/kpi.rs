//! KPIs as the company's `kpi.rhai` defines them, evaluated for a member or
//! team over a period.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use entity::{enums::PeriodKind, member, team};

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

/// A base metric on one row, with its target when one is set.
#[derive(SimpleObject)]
pub struct MetricValue {
    /// Metric key.
    pub key: String,
    /// Its value (counts; money in minor units).
    pub value: f64,
    /// The target for the row's member or team and period.
    pub target: Option<f64>,
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
        MetricValue {
            key: key.into(),
            value: self.row.metrics[i] as f64,
            target: self.row.targets.get(key).map(|v| *v as f64),
        }
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
    /// Week, month, quarter or year.
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
        let subject = match (
            parse_opt_id(member_id.as_ref(), "Member")?,
            parse_opt_id(team_id.as_ref(), "Team")?,
        ) {
            (Some(m), None) => Subject::Member(m),
            (None, Some(t)) => Subject::Team(t),
            (None, None) => Subject::Member(actor.member_id),
            (Some(_), Some(_)) => return Err(AppError::bad("give at most one of `memberId` and `teamId`").into()),
        };
        let today = period::today(actor.time_zone);
        let period = match period_start {
            Some(start) => Period::starting(period_kind, start.0)?,
            None => Period::containing(period_kind, today),
        };
        let db = db(ctx)?;
        kpi::authorize(db, actor, subject).await?;
        let mut rows = kpi::rows(db, actor.company_id, actor.time_zone, today, &[subject], &[period]).await?;
        let row = rows.pop().ok_or_else(|| AppError::Internal("no KPI row".into()))?;
        let set = Arc::clone(&actor.plugins);
        let (row, values) = run(move || {
            let values = kpi::evaluate(&set, &row);
            Ok((row, values))
        })
        .await?;
        Ok(KpiRow::new(row, values, &actor.plugins.process.kpis))
    }
}
