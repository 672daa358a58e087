//! The month's landing forecast and its weekly snapshots.

use async_graphql::{Context, ID, Object};
use entity::{company, enums::PeriodKind, forecast_snapshot, member, team};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{
    context::{actor, db, writer},
    loader::related,
    org::{Member, Team},
    scalars::{Date, Money},
};
use crate::{
    error::AppError,
    service::{
        self, forecast, kpi,
        period::{self, Period},
        plan::Subject,
    },
};

/// Sales booked plus the weighted pipeline expected to close in the month,
/// against the target.
pub struct Forecast(forecast::Forecast);

/// The forecast of one week, as the weekly snapshot kept it.
pub struct ForecastSnapshot(forecast_snapshot::Model);

#[Object]
impl ForecastSnapshot {
    /// Monday of the week (company time zone).
    async fn week_start(&self) -> Date {
        Date(self.0.week_start)
    }
    /// Sales booked in the month by then.
    async fn booked_sales(&self) -> Money {
        Money(self.0.booked_sales)
    }
    /// Their gross profit.
    async fn gross_profit(&self) -> Money {
        Money(self.0.gross_profit)
    }
    /// Open deals expected to close in the month then.
    async fn pipeline_deals(&self) -> i64 {
        self.0.pipeline_deals
    }
    /// Their amount.
    async fn pipeline_amount(&self) -> Money {
        Money(self.0.pipeline_amount)
    }
    /// Their amount weighted by stage probability.
    async fn weighted_amount(&self) -> Money {
        Money(self.0.weighted_amount)
    }
    /// Booked plus weighted: where the month was expected to land.
    async fn landing(&self) -> Money {
        Money(self.0.booked_sales + self.0.weighted_amount)
    }
    /// The sales target then.
    async fn target(&self) -> Option<Money> {
        self.0.target.map(Money)
    }
    /// When the figures were taken (the week's latest run).
    async fn taken_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.taken_at
    }
}

#[Object]
impl Forecast {
    /// The member, when the forecast is one member's.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        match self.0.subject {
            Subject::Member(id) => Ok(Some(Member(related::<member::Entity>(ctx, id).await?))),
            Subject::Team(_) => Ok(None),
        }
    }
    /// The team, when the forecast is a team's (its members and sub-teams' members).
    async fn team(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Team>> {
        match self.0.subject {
            Subject::Team(id) => Ok(Some(Team(related::<team::Entity>(ctx, id).await?))),
            Subject::Member(_) => Ok(None),
        }
    }
    /// First day of the month.
    async fn month(&self) -> Date {
        Date(self.0.month.start)
    }
    /// Sales booked in the month (sales records).
    async fn booked_sales(&self) -> Money {
        Money(self.0.booked_sales)
    }
    /// Their gross profit.
    async fn gross_profit(&self) -> Money {
        Money(self.0.gross_profit)
    }
    /// Amount of the deals won in the month (their sales may not be booked yet).
    async fn won_amount(&self) -> Money {
        Money(self.0.won_amount)
    }
    /// Open deals whose expected close date falls in the month (deals
    /// without a date are not forecast).
    async fn pipeline_deals(&self) -> i64 {
        self.0.pipeline_deals
    }
    /// Their amount.
    async fn pipeline_amount(&self) -> Money {
        Money(self.0.pipeline_amount)
    }
    /// Their amount times their stage's probability.
    async fn weighted_amount(&self) -> Money {
        Money(self.0.weighted_amount)
    }
    /// Of those deals, the ones whose expected date has already passed.
    async fn overdue_deals(&self) -> i64 {
        self.0.overdue_deals
    }
    /// Where the month should land: booked sales plus the weighted pipeline.
    async fn landing(&self) -> Money {
        Money(self.0.landing())
    }
    /// The month's sales target.
    async fn target(&self) -> Option<Money> {
        self.0.target.map(Money)
    }
    /// The month's gross profit target.
    async fn profit_target(&self) -> Option<Money> {
        self.0.profit_target.map(Money)
    }
    /// Landing over target (1.0 = on target); null without a target.
    async fn attainment(&self) -> Option<f64> {
        self.0
            .target
            .filter(|t| *t > 0)
            .map(|t| self.0.landing() as f64 / t as f64)
    }
    /// For a team: the same forecast for each of its members (sub-teams
    /// included), in one pass; empty for a member.
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Forecast>> {
        let Subject::Team(_) = self.0.subject else {
            return Ok(Vec::new());
        };
        let actor = actor(ctx)?;
        let db = db(ctx)?;
        let ids: Vec<Subject> = kpi::members_of(db, actor.company_id, &[self.0.subject])
            .await?
            .into_iter()
            .flatten()
            .map(Subject::Member)
            .collect();
        let today = period::today(actor.time_zone);
        let stages = &actor.plugins.process.stages;
        let rows = forecast::rows(db, actor.company_id, actor.time_zone, today, stages, &ids, self.0.month).await?;
        Ok(rows.into_iter().map(Forecast).collect())
    }
    /// How the forecast moved: the weekly snapshots of this month, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ForecastSnapshot>> {
        let actor = actor(ctx)?;
        let (kind, id) = match self.0.subject {
            Subject::Member(id) => ("member", id),
            Subject::Team(id) => ("team", id),
        };
        let rows = forecast_snapshot::Entity::find()
            .filter(forecast_snapshot::Column::CompanyId.eq(actor.company_id))
            .filter(forecast_snapshot::Column::SubjectKind.eq(kind))
            .filter(forecast_snapshot::Column::SubjectId.eq(id))
            .filter(forecast_snapshot::Column::Month.eq(self.0.month.start))
            .order_by_asc(forecast_snapshot::Column::WeekStart)
            .all(db(ctx)?)
            .await?;
        Ok(rows.into_iter().map(ForecastSnapshot).collect())
    }
}

/// Forecast queries.
#[derive(Default)]
pub struct ForecastQuery;

#[Object]
impl ForecastQuery {
    /// The landing forecast of a member or team for a month (default: yours,
    /// this month in the company's time zone). You see your own and those of
    /// the teams you lead and their members.
    async fn forecast(
        &self,
        ctx: &Context<'_>,
        member_id: Option<ID>,
        team_id: Option<ID>,
        #[graphql(desc = "First day of the month.")] month: Option<Date>,
    ) -> async_graphql::Result<Forecast> {
        let actor = actor(ctx)?;
        let subject = super::kpi::subject(actor, member_id.as_ref(), team_id.as_ref())?;
        let today = period::today(actor.time_zone);
        let month = match month {
            Some(d) => Period::starting(PeriodKind::Month, d.0)?,
            None => Period::containing(PeriodKind::Month, today),
        };
        let db = db(ctx)?;
        kpi::authorize(db, actor, subject).await?;
        let stages = &actor.plugins.process.stages;
        let mut rows = forecast::rows(db, actor.company_id, actor.time_zone, today, stages, &[subject], month).await?;
        rows.pop()
            .map(Forecast)
            .ok_or_else(|| AppError::Internal("no forecast row".into()).into())
    }
}

/// Forecast mutations.
#[derive(Default)]
pub struct ForecastMutation;

#[Object]
impl ForecastMutation {
    /// Takes (or refreshes) this week's forecast snapshot of every member and
    /// team now, instead of waiting for the background task. Admins only.
    /// Returns the snapshots written.
    async fn take_forecast_snapshots(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let actor = writer(ctx)?;
        actor.require_admin("take forecast snapshots")?;
        let db = db(ctx)?;
        let company = company::Entity::find_by_id(actor.company_id)
            .one(db)
            .await?
            .ok_or(AppError::NotFound("Company"))?;
        let n = forecast::snapshot_company(db, &company, &actor.plugins.process.stages, service::now()).await?;
        Ok(n as i64)
    }
}
