//! Energy (engagement) of a deal, customer or member, and rankings.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{customer, deal, member};
use sea_orm::{ColumnTrait, QueryFilter};

use super::{
    connection::parse_opt_id,
    context::{actor, db},
    customer::Customer,
    deal::Deal,
    loader::{readable, related},
    org::Member,
    scalars::Date,
};
use crate::{
    error::AppError,
    plugins::Named,
    service::{
        access,
        energy::{self, EnergySubject, RankBy, RankFilter},
        kpi,
        plan::Subject,
    },
};

/// Points of one week.
#[derive(SimpleObject)]
pub struct WeeklyEnergy {
    /// Monday of the week (company time zone).
    pub week_start: Date,
    /// Points scored that week.
    pub points: i64,
    /// Activities done that week.
    pub activities: i64,
}

/// How broad the contact is: who was met.
#[derive(SimpleObject)]
pub struct EnergyBreadth {
    /// Distinct contacts met in done activities.
    pub contacts: i64,
    /// Distinct departments of those contacts.
    pub departments: i64,
    /// Contact levels met, in the process's order.
    pub levels_reached: Vec<Named>,
    /// Contact levels of the process nobody has met yet.
    pub levels_not_reached: Vec<Named>,
}

/// The energy figures of a deal, customer or member.
pub struct Energy(pub energy::Energy);

#[Object]
impl Energy {
    /// The deal, when the figures are a deal's.
    async fn deal(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Deal>> {
        match self.0.subject {
            EnergySubject::Deal(id) => Ok(Some(Deal(related::<deal::Entity>(ctx, id).await?))),
            _ => Ok(None),
        }
    }
    /// The customer, when the figures are a customer's.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        match self.0.subject {
            EnergySubject::Customer(id) => Ok(Some(Customer(related::<customer::Entity>(ctx, id).await?))),
            _ => Ok(None),
        }
    }
    /// The member, when the figures are a member's.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        match self.0.subject {
            EnergySubject::Member(id) => Ok(Some(Member(related::<member::Entity>(ctx, id).await?))),
            _ => Ok(None),
        }
    }
    /// Points of every done activity (cumulative).
    async fn points(&self) -> i64 {
        self.0.points
    }
    /// Done activities.
    async fn activities(&self) -> i64 {
        self.0.activities
    }
    /// The latest done activity.
    async fn last_activity_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_activity_at
    }
    /// Whole weeks since then; null: never.
    async fn weeks_since_last_activity(&self) -> Option<i64> {
        self.0.last_activity_at.map(|t| (Utc::now() - t).num_weeks())
    }
    /// Who was met.
    async fn breadth(&self, ctx: &Context<'_>) -> async_graphql::Result<EnergyBreadth> {
        let levels = &actor(ctx)?.plugins.process.contact_levels;
        let (reached, missing) = levels.iter().cloned().partition(|l| self.0.levels.contains(&l.key));
        Ok(EnergyBreadth {
            contacts: self.0.contacts,
            departments: self.0.departments,
            levels_reached: reached,
            levels_not_reached: missing,
        })
    }
    /// Continuity: points per week over the weeks asked for, oldest first
    /// (the current week last).
    async fn weekly(&self) -> Vec<WeeklyEnergy> {
        self.0
            .weekly
            .iter()
            .map(|w| WeeklyEnergy {
                week_start: Date(w.week_start),
                points: w.points,
                activities: w.activities,
            })
            .collect()
    }
    /// Weeks with at least one done activity among them.
    async fn active_weeks(&self) -> i64 {
        self.0.weekly.iter().filter(|w| w.activities > 0).count() as i64
    }
    /// The trend: the least-squares slope of the weekly points, in points a
    /// week gained (positive) or lost (negative) each week.
    async fn trend(&self) -> f64 {
        self.0.trend()
    }
}

/// What a ranking ranks.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum EnergyRankBy {
    /// Open deals.
    Deal,
    /// Customers.
    Customer,
    /// Members.
    Member,
}

/// One place of an energy ranking.
pub struct EnergyRank {
    rank: usize,
    by: EnergyRankBy,
    row: energy::Ranked,
}

#[Object]
impl EnergyRank {
    /// 1 for the most points.
    async fn rank(&self) -> i64 {
        self.rank as i64
    }
    /// The deal, when ranking deals.
    async fn deal(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Deal>> {
        if self.by != EnergyRankBy::Deal {
            return Ok(None);
        }
        Ok(Some(Deal(related::<deal::Entity>(ctx, self.row.id).await?)))
    }
    /// The customer, when ranking customers.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        if self.by != EnergyRankBy::Customer {
            return Ok(None);
        }
        Ok(Some(Customer(related::<customer::Entity>(ctx, self.row.id).await?)))
    }
    /// The member, when ranking members.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        if self.by != EnergyRankBy::Member {
            return Ok(None);
        }
        Ok(Some(Member(related::<member::Entity>(ctx, self.row.id).await?)))
    }
    /// Points in the window.
    async fn points(&self) -> i64 {
        self.row.points
    }
    /// Points in the window of the same length before it.
    async fn previous_points(&self) -> i64 {
        self.row.previous_points
    }
    /// Points minus previous points: the trend.
    async fn change(&self) -> i64 {
        self.row.points - self.row.previous_points
    }
    /// Activities done in the window.
    async fn activities(&self) -> i64 {
        self.row.activities
    }
}

/// The weeks of continuity asked for: 12 by default, 1 to 104.
pub(crate) fn continuity_weeks(weeks: Option<u32>) -> async_graphql::Result<u32> {
    let weeks = weeks.unwrap_or(12);
    if !(1..=104).contains(&weeks) {
        return Err(AppError::bad("`weeks` must be between 1 and 104").into());
    }
    Ok(weeks)
}

/// Energy queries.
#[derive(Default)]
pub struct EnergyQuery;

#[Object]
impl EnergyQuery {
    /// The energy of one deal, customer (by id or by its external code, for
    /// daily-report tools that know the sales system's codes) or member:
    /// cumulative points, breadth, points per week over the last `weeks`
    /// weeks, and the trend, over the activities you may read. A member's
    /// energy is for yourself and the members of the teams you lead.
    async fn energy(
        &self,
        ctx: &Context<'_>,
        deal_id: Option<ID>,
        customer_id: Option<ID>,
        #[graphql(desc = "The customer's external code (the sales-management system's).")] customer_code: Option<
            String,
        >,
        member_id: Option<ID>,
        #[graphql(desc = "Weeks of continuity, the current one included (default 12, at most 104).")] weeks: Option<
            u32,
        >,
    ) -> async_graphql::Result<Energy> {
        let actor = actor(ctx)?;
        let db = db(ctx)?;
        let weeks = continuity_weeks(weeks)?;
        let given = [
            deal_id.is_some(),
            customer_id.is_some(),
            customer_code.is_some(),
            member_id.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(
                AppError::bad("give exactly one of `dealId`, `customerId`, `customerCode` and `memberId`").into(),
            );
        }
        // Through the loader: a query asking for the deal (or customer) beside
        // its energy reads the row once.
        let subject = if let Some(id) = parse_opt_id(deal_id.as_ref(), "Deal")? {
            readable::<deal::Entity>(ctx, id, deal::Column::DeletedAt, |d| d.deleted_at.is_some()).await?;
            EnergySubject::Deal(id)
        } else if let Some(id) = parse_opt_id(customer_id.as_ref(), "Customer")? {
            readable::<customer::Entity>(ctx, id, customer::Column::DeletedAt, |c| c.deleted_at.is_some()).await?;
            EnergySubject::Customer(id)
        } else if let Some(code) = customer_code {
            let found = access::select::<customer::Entity>(actor)
                .filter(customer::Column::ExternalCode.eq(code.trim()))
                .filter(customer::Column::DeletedAt.is_null())
                .one(db)
                .await?
                .ok_or(AppError::NotFound("Customer"))?;
            EnergySubject::Customer(found.id)
        } else {
            let id = parse_opt_id(member_id.as_ref(), "Member")?.ok_or(AppError::NotFound("Member"))?;
            kpi::authorize(db, actor, Subject::Member(id)).await?;
            EnergySubject::Member(id)
        };
        // The breadth costs a statement of its own; only when selected.
        let breadth = ctx.look_ahead().field("breadth").exists();
        Ok(Energy(energy::energy(db, actor, subject, weeks, breadth).await?))
    }

    /// The open deals, customers or members with the most energy points over
    /// the last `weeks` weeks (default 4), with the points of the weeks
    /// before for the trend; over the activities you may read.
    async fn energy_ranking(
        &self,
        ctx: &Context<'_>,
        by: EnergyRankBy,
        #[graphql(desc = "Weeks in the window, the current one included (default 4, at most 52).")] weeks: Option<u32>,
        #[graphql(desc = "Activities of members of this team or a team below it.")] team_id: Option<ID>,
        #[graphql(desc = "Activities at customers of this group.")] group_id: Option<ID>,
        #[graphql(desc = "Places (default 20, at most 200).", validator(maximum = 200))] first: Option<u64>,
    ) -> async_graphql::Result<Vec<EnergyRank>> {
        let actor = actor(ctx)?;
        let weeks = weeks.unwrap_or(4);
        if !(1..=52).contains(&weeks) {
            return Err(AppError::bad("`weeks` must be between 1 and 52").into());
        }
        let filter = RankFilter {
            team_id: parse_opt_id(team_id.as_ref(), "Team")?,
            group_id: parse_opt_id(group_id.as_ref(), "CustomerGroup")?,
        };
        let service_by = match by {
            EnergyRankBy::Deal => RankBy::Deal,
            EnergyRankBy::Customer => RankBy::Customer,
            EnergyRankBy::Member => RankBy::Member,
        };
        let rows = energy::ranking(db(ctx)?, actor, service_by, weeks, &filter, first.unwrap_or(20)).await?;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| EnergyRank { rank: i + 1, by, row })
            .collect())
    }
}
