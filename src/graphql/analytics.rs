//! The manager's views (analytics), computed by the database.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{customer, customer_group, member};

use super::{
    connection::parse_opt_id,
    context::{actor, db},
    customer::{Customer, CustomerGroup},
    loader::related,
    org::Member,
    scalars::Money,
};
use crate::service::analytics::{self, UncontactedFilter};

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
