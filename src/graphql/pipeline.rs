//! The pipeline view: each part is a field, computed only when asked for.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};

use super::{
    connection::parse_opt_id,
    context::{actor, db},
    deal::Deal,
    process::StageInfo,
    scalars::{Date, Money},
};
use crate::{
    error::AppError,
    plugins::StageOutcome,
    service::{
        Actor,
        period::{self, midnight},
        pipeline::{self, DealScope},
    },
};

/// The stage a key stands for; a key the process no longer has reads as unknown.
fn stage_info(actor: &Actor, key: &str) -> StageInfo {
    match actor.plugins.process.stage(key) {
        Some(s) => StageInfo::of(s),
        None => StageInfo::unknown(key, StageOutcome::Open),
    }
}

/// The instants bounding the days `from` to `to` (inclusive) in the
/// company's time zone; by default the 90 days up to today.
fn range(actor: &Actor, from: Option<Date>, to: Option<Date>) -> async_graphql::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let to = to.map(|d| d.0).unwrap_or_else(|| period::today(actor.time_zone));
    let from = from.map(|d| d.0).unwrap_or(to - Duration::days(89));
    if from > to {
        return Err(AppError::bad("`from` must not be after `to`").into());
    }
    if (to - from).num_days() > 3660 {
        return Err(AppError::bad("a range spans at most ten years").into());
    }
    Ok((
        midnight(actor.time_zone, from),
        midnight(actor.time_zone, to + Duration::days(1)),
    ))
}

/// Deals in one stage.
pub struct PipelineStage(pipeline::StageFigures);

#[Object]
impl PipelineStage {
    /// The stage.
    async fn stage(&self, ctx: &Context<'_>) -> async_graphql::Result<StageInfo> {
        Ok(stage_info(actor(ctx)?, &self.0.stage))
    }
    /// Deals in it.
    async fn deals(&self) -> i64 {
        self.0.deals
    }
    /// Distinct customers of those deals.
    async fn customers(&self) -> i64 {
        self.0.customers
    }
    /// Their amount.
    async fn amount(&self) -> Money {
        Money(self.0.amount)
    }
    /// Their amount weighted by the stage's probability (rounded to the minor unit).
    async fn weighted_amount(&self) -> Money {
        Money(self.0.weighted.round() as i64)
    }
    /// How long they have been in the stage, on average (days).
    async fn average_age_days(&self) -> Option<f64> {
        self.0.average_age_days
    }
    /// The longest any of them has been in it (days).
    async fn oldest_age_days(&self) -> Option<f64> {
        self.0.oldest_age_days
    }
}

/// Time deals spent in one stage.
pub struct StageDuration(pipeline::StageDuration);

#[Object]
impl StageDuration {
    /// The stage.
    async fn stage(&self, ctx: &Context<'_>) -> async_graphql::Result<StageInfo> {
        Ok(stage_info(actor(ctx)?, &self.0.stage))
    }
    /// Stays in the stage that ended in the range.
    async fn stays(&self) -> i64 {
        self.0.stays
    }
    /// Their average length (days).
    async fn average_days(&self) -> Option<f64> {
        self.0.average_days
    }
    /// Their median length (days).
    async fn median_days(&self) -> Option<f64> {
        self.0.median_days
    }
}

/// One step of the funnel.
pub struct ConversionStep {
    stage: String,
    reached: i64,
    next: i64,
}

#[Object]
impl ConversionStep {
    /// The stage.
    async fn stage(&self, ctx: &Context<'_>) -> async_graphql::Result<StageInfo> {
        Ok(stage_info(actor(ctx)?, &self.stage))
    }
    /// Deals of the cohort that reached this stage or a later one.
    async fn reached(&self) -> i64 {
        self.reached
    }
    /// The share of them that reached the next stage (the last open stage's
    /// next is winning); null when none reached this one.
    async fn rate_to_next(&self) -> Option<f64> {
        (self.reached > 0).then(|| self.next as f64 / self.reached as f64)
    }
}

/// How far the deals created in a range got.
#[derive(SimpleObject)]
pub struct PipelineConversion {
    /// Deals created in the range.
    pub cohort: i64,
    /// The open stages in order.
    pub steps: Vec<ConversionStep>,
    /// Deals of the cohort won by now.
    pub won: i64,
    /// Deals of the cohort lost by now.
    pub lost: i64,
    /// Won among the closed ones; null when none is closed.
    pub win_rate: Option<f64>,
}

/// One reason deals were lost.
#[derive(SimpleObject)]
pub struct LostReason {
    /// The reason as written when the deal was lost.
    pub reason: String,
    /// Deals lost for it.
    pub deals: i64,
    /// Their amount.
    pub amount: Money,
}

/// Deals won and lost in a range.
#[derive(SimpleObject)]
pub struct PipelineOutcomes {
    /// Deals won.
    pub won: i64,
    /// Their amount.
    pub won_amount: Money,
    /// Deals lost.
    pub lost: i64,
    /// Their amount.
    pub lost_amount: Money,
    /// Why deals were lost, the most frequent first.
    pub lost_reasons: Vec<LostReason>,
}

/// An open deal that has not moved.
pub struct StalledDeal(entity::deal::Model);

#[Object]
impl StalledDeal {
    /// The deal.
    async fn deal(&self) -> Deal {
        Deal(self.0.clone())
    }
    /// Days in its current stage.
    async fn days_in_stage(&self) -> i64 {
        (Utc::now() - self.0.stage_entered_at).num_days()
    }
    /// Days since its latest activity; null: none ever.
    async fn days_since_activity(&self) -> Option<i64> {
        self.0.last_activity_at.map(|t| (Utc::now() - t).num_days())
    }
}

/// Stalled deals: a page and the total.
#[derive(SimpleObject)]
pub struct StalledDeals {
    /// Every stalled deal the view covers.
    pub total_count: u64,
    /// The page, the longest in their stage first.
    pub nodes: Vec<StalledDeal>,
}

/// The pipeline of the deals you may read, narrowed by owner, team or
/// customer group. Ranges are days in the company's time zone, both ends
/// included, by default the 90 days up to today.
pub struct Pipeline(DealScope);

#[Object]
impl Pipeline {
    /// Deals per stage of the process, in its order: now, or as the funnel
    /// stood at `asOf` (rebuilt from the stage history, with today's amounts;
    /// deleted deals are left out).
    async fn stages(
        &self,
        ctx: &Context<'_>,
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Vec<PipelineStage>> {
        let actor = actor(ctx)?;
        if as_of.is_some_and(|t| t > Utc::now()) {
            return Err(AppError::bad("`asOf` must not be in the future").into());
        }
        let found = pipeline::stages(db(ctx)?, actor, &self.0, as_of).await?;
        Ok(found.into_iter().map(PipelineStage).collect())
    }

    /// Time spent in each stage by the deals that left it in the range.
    async fn stage_durations(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> async_graphql::Result<Vec<StageDuration>> {
        let actor = actor(ctx)?;
        let (lo, hi) = range(actor, from, to)?;
        let found = pipeline::durations(db(ctx)?, actor, &self.0, lo, hi).await?;
        Ok(found.into_iter().map(StageDuration).collect())
    }

    /// The funnel of the deals created in the range: how many reached each
    /// open stage (or passed it), and the rate from each to the next.
    async fn conversion(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> async_graphql::Result<PipelineConversion> {
        let actor = actor(ctx)?;
        let (lo, hi) = range(actor, from, to)?;
        let c = pipeline::conversion(db(ctx)?, actor, &self.0, lo, hi).await?;
        let nexts: Vec<i64> = c.reached.iter().skip(1).map(|r| r.1).chain([c.won]).collect();
        Ok(PipelineConversion {
            cohort: c.cohort,
            steps: c
                .reached
                .into_iter()
                .zip(nexts)
                .map(|((stage, reached), next)| ConversionStep { stage, reached, next })
                .collect(),
            won: c.won,
            lost: c.lost,
            win_rate: (c.won + c.lost > 0).then(|| c.won as f64 / (c.won + c.lost) as f64),
        })
    }

    /// Deals won and lost in the range, with the reasons deals were lost.
    async fn outcomes(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> async_graphql::Result<PipelineOutcomes> {
        let actor = actor(ctx)?;
        let (lo, hi) = range(actor, from, to)?;
        let o = pipeline::outcomes(db(ctx)?, actor, &self.0, lo, hi).await?;
        Ok(PipelineOutcomes {
            won: o.won,
            won_amount: Money(o.won_amount),
            lost: o.lost,
            lost_amount: Money(o.lost_amount),
            lost_reasons: o
                .reasons
                .into_iter()
                .map(|(reason, deals, amount)| LostReason {
                    reason,
                    deals,
                    amount: Money(amount),
                })
                .collect(),
        })
    }

    /// Open deals in the same stage for more than `days` days, or without
    /// an activity for that long.
    async fn stalled(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(minimum = 1, maximum = 3660))] days: i64,
        #[graphql(desc = "Page size (default 50, at most 500).", validator(maximum = 500))] first: Option<u64>,
        #[graphql(desc = "Deals to skip (default 0).", validator(maximum = 1_000_000))] offset: Option<u64>,
    ) -> async_graphql::Result<StalledDeals> {
        let actor = actor(ctx)?;
        let (total, deals) =
            pipeline::stalled(db(ctx)?, actor, &self.0, days, first.unwrap_or(50), offset.unwrap_or(0)).await?;
        Ok(StalledDeals {
            total_count: total,
            nodes: deals.into_iter().map(StalledDeal).collect(),
        })
    }
}

/// Pipeline queries.
#[derive(Default)]
pub struct PipelineQuery;

#[Object]
impl PipelineQuery {
    /// The pipeline of the deals you may read: per stage (now or on a past
    /// date), time in stage, conversion, outcomes, stalled deals.
    async fn pipeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Deals owned by this member.")] owner_id: Option<ID>,
        #[graphql(desc = "Deals owned by members of this team or a team below it.")] team_id: Option<ID>,
        #[graphql(desc = "Deals of customers in this customer group.")] group_id: Option<ID>,
    ) -> async_graphql::Result<Pipeline> {
        let scope = DealScope {
            owner_id: parse_opt_id(owner_id.as_ref(), "Member")?,
            team_id: parse_opt_id(team_id.as_ref(), "Team")?,
            group_id: parse_opt_id(group_id.as_ref(), "CustomerGroup")?,
        };
        scope.check(db(ctx)?, actor(ctx)?).await?;
        Ok(Pipeline(scope))
    }
}
