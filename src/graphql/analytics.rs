//! The manager's views (analytics), computed by the database.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    customer, customer_group, deal,
    enums::{ActivityKind, ActivityStatus, DealStatus},
    member,
};

use super::{
    activity::Activity,
    connection::parse_opt_id,
    context::{actor, db, loader},
    customer::{Customer, CustomerGroup},
    loader::{ById, related},
    org::Member,
    scalars::{Date, Money},
};
use crate::{
    error::AppError,
    service::{
        analytics::{self, UncontactedFilter},
        kpi, period,
    },
};

/// A customer nobody contacted lately.
pub struct UncontactedCustomer(analytics::Uncontacted);

#[Object]
impl UncontactedCustomer {
    /// The customer (with its owner, group, contacts…).
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        Ok(Customer(related::<customer::Entity>(ctx, self.0.customer_id).await?))
    }
    /// Its latest done activity; null: never contacted.
    async fn last_contact_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_contact_at
    }
    /// Whole days since then; null: never contacted.
    async fn days_since_contact(&self) -> Option<i64> {
        self.0.last_contact_at.map(|t| (Utc::now() - t).num_days())
    }
    /// Its open deals.
    async fn open_deals(&self) -> i64 {
        self.0.open_deals
    }
    /// Their amount.
    async fn open_deals_amount(&self) -> Money {
        Money(self.0.open_amount)
    }
    /// Energy points of the activities done on its open deals.
    async fn open_deals_energy(&self) -> i64 {
        self.0.open_energy
    }
}

/// Uncontacted customers of one owner in one customer group.
pub struct UncontactedGroup(analytics::UncontactedGroup);

#[Object]
impl UncontactedGroup {
    /// The customer group; null for customers in no group.
    async fn group(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CustomerGroup>> {
        match self.0.group_id {
            Some(id) => Ok(Some(CustomerGroup(related::<customer_group::Entity>(ctx, id).await?))),
            None => Ok(None),
        }
    }
    /// The owner.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        Ok(Member(related::<member::Entity>(ctx, self.0.owner_id).await?))
    }
    /// Uncontacted customers.
    async fn count(&self) -> i64 {
        self.0.customers
    }
    /// Of which priority customers.
    async fn priority_count(&self) -> i64 {
        self.0.priority
    }
}

/// Customers nobody contacted for `days` days.
#[derive(SimpleObject)]
pub struct UncontactedCustomers {
    /// The threshold asked for.
    pub days: i64,
    /// Contact since this instant counts.
    pub since: DateTime<Utc>,
    /// Every uncontacted customer matching the filter.
    pub total_count: u64,
    /// Per customer group and owner, for the whole list.
    pub groups: Vec<UncontactedGroup>,
    /// The page: priority customers first, then the longest without contact (never contacted first).
    pub nodes: Vec<UncontactedCustomer>,
}

/// Analytics queries.
#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// Customers whose latest done activity is older than `days` days, or who
    /// were never contacted, with their open deals and the energy on them;
    /// grouped by customer group and owner. Covers the customers you may read.
    #[allow(clippy::too_many_arguments)]
    async fn uncontacted_customers(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(minimum = 1, maximum = 3660))] days: i64,
        group_id: Option<ID>,
        owner_id: Option<ID>,
        #[graphql(desc = "Customers owned by members of this team or a team below it.")] team_id: Option<ID>,
        #[graphql(desc = "Priority customers only.")] priority_only: Option<bool>,
        #[graphql(desc = "Page size (default 50, at most 500).", validator(maximum = 500))] first: Option<u64>,
        #[graphql(desc = "Customers to skip (default 0).", validator(maximum = 1_000_000))] offset: Option<u64>,
    ) -> async_graphql::Result<UncontactedCustomers> {
        let actor = actor(ctx)?;
        let id = |v: Option<&ID>, what| parse_opt_id(v, what);
        let filter = UncontactedFilter {
            group_id: id(group_id.as_ref(), "CustomerGroup")?,
            owner_id: id(owner_id.as_ref(), "Member")?,
            team_id: id(team_id.as_ref(), "Team")?,
            priority_only: priority_only.unwrap_or(false),
        };
        let (first, offset) = (first.unwrap_or(50), offset.unwrap_or(0));
        let report = analytics::uncontacted(db(ctx)?, actor, days, &filter, first, offset).await?;
        Ok(UncontactedCustomers {
            days,
            since: report.since,
            total_count: report.total,
            groups: report.groups.into_iter().map(UncontactedGroup).collect(),
            nodes: report.customers.into_iter().map(UncontactedCustomer).collect(),
        })
    }
}

/// An activity placed on the calendar.
pub struct CalendarEvent(entity::activity::Model);

#[Object]
impl CalendarEvent {
    /// The activity (with its customer, deal, contacts…).
    async fn activity(&self) -> Activity {
        Activity(self.0.clone())
    }
    /// When it starts: when it was done, else when it is scheduled.
    async fn start(&self) -> DateTime<Utc> {
        self.0.done_at.unwrap_or(self.0.scheduled_at)
    }
    /// When it ends, when its duration is known.
    async fn end(&self) -> Option<DateTime<Utc>> {
        self.0
            .duration_minutes
            .map(|m| self.0.done_at.unwrap_or(self.0.scheduled_at) + chrono::Duration::minutes(i64::from(m)))
    }
    /// The day it falls on, in the company's time zone.
    async fn day(&self, ctx: &Context<'_>) -> async_graphql::Result<Date> {
        let tz = actor(ctx)?.time_zone;
        Ok(Date(
            self.0
                .done_at
                .unwrap_or(self.0.scheduled_at)
                .with_timezone(&tz)
                .date_naive(),
        ))
    }
    /// Planned, done or cancelled.
    async fn status(&self) -> ActivityStatus {
        self.0.status
    }
    /// Visit, call, e-mail, web meeting or seminar.
    async fn kind(&self) -> ActivityKind {
        self.0.kind
    }
    /// The activity's subject, as a title.
    async fn title(&self) -> &str {
        &self.0.subject
    }
    /// The customer is a priority customer.
    async fn priority_customer(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let found = loader(ctx)?
            .load_one(ById::<customer::Entity>::new(self.0.customer_id))
            .await?;
        Ok(found.is_some_and(|c| c.is_priority))
    }
    /// The activity works on a key deal: an open deal in a stage with a win
    /// probability of 50 % or more (proposal and later in most processes).
    async fn key_deal(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let Some(id) = self.0.deal_id else {
            return Ok(false);
        };
        // A deal the caller may not read is not marked (its activity still shows).
        let Some(deal) = loader(ctx)?.load_one(ById::<deal::Entity>::new(id)).await? else {
            return Ok(false);
        };
        let stage = actor(ctx)?.plugins.process.stage(&deal.stage).map(|s| s.probability);
        Ok(deal.status == DealStatus::Open
            && deal.deleted_at.is_none()
            && stage.is_some_and(|p| p >= KEY_DEAL_PROBABILITY))
    }
}

/// The win probability from which an open deal is a key deal on the calendar.
const KEY_DEAL_PROBABILITY: i32 = 50;

/// Calendar queries.
#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// The activities of a member or team (the teams below it included) from
    /// `from` to `to` (days in the company's time zone, both included, at most
    /// 92 days): planned ones when scheduled, done ones when done, ordered by
    /// time, with priority customers and key deals marked. Default: your own.
    /// You see your own calendar and those of the teams you lead and their members.
    async fn calendar(
        &self,
        ctx: &Context<'_>,
        member_id: Option<ID>,
        team_id: Option<ID>,
        from: Date,
        to: Date,
        #[graphql(desc = "Include cancelled activities (default false).")] include_cancelled: Option<bool>,
    ) -> async_graphql::Result<Vec<CalendarEvent>> {
        let actor = actor(ctx)?;
        let subject = super::kpi::subject(actor, member_id.as_ref(), team_id.as_ref())?;
        if from.0 > to.0 {
            return Err(AppError::bad("`from` must not be after `to`").into());
        }
        if (to.0 - from.0).num_days() >= 92 {
            return Err(AppError::bad("a calendar spans at most 92 days").into());
        }
        let db = db(ctx)?;
        kpi::authorize(db, actor, subject).await?;
        let members = kpi::members_of(db, actor.company_id, &[subject]).await?.concat();
        let (lo, hi) = (
            period::midnight(actor.time_zone, from.0),
            period::midnight(actor.time_zone, to.0 + chrono::Duration::days(1)),
        );
        let events = analytics::calendar(db, actor, members, lo, hi, include_cancelled.unwrap_or(false)).await?;
        Ok(events.into_iter().map(CalendarEvent).collect())
    }
}
