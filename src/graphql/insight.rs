//! Customer 360: one query for everything about a customer, and its value.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use entity::{customer, member, product};

use super::{
    connection::parse_id,
    context::{actor, db},
    customer::Customer,
    energy::Energy,
    loader::related,
    misc::Product,
    org::Member,
    scalars::{Date, Money},
};
use crate::{
    error::AppError,
    plugins::Named,
    service::{
        access,
        energy::{self, EnergySubject},
        insight, period,
    },
};

/// The customer's contacts at one level of the process.
#[derive(SimpleObject)]
pub struct ContactLevelReach {
    /// The level (an unknown key reads with its key as name).
    pub level: Named,
    /// Contacts at that level.
    pub contacts: i64,
    /// Of them, met in a done activity.
    pub met: i64,
    /// The latest such meeting.
    pub last_met_at: Option<DateTime<Utc>>,
}

/// A change of owner.
pub struct OwnerChange(insight::OwnerChange);

#[Object]
impl OwnerChange {
    /// The owner before; null when the customer was created.
    async fn from(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        match self.0.from {
            Some(id) => Ok(Some(Member(related::<member::Entity>(ctx, id).await?))),
            None => Ok(None),
        }
    }
    /// The owner after.
    async fn to(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        match self.0.to {
            Some(id) => Ok(Some(Member(related::<member::Entity>(ctx, id).await?))),
            None => Ok(None),
        }
    }
    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Who changed it; null for an API key.
    async fn by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        match self.0.by {
            Some(id) => Ok(Some(Member(related::<member::Entity>(ctx, id).await?))),
            None => Ok(None),
        }
    }
}

/// Sales of one month.
#[derive(SimpleObject)]
pub struct MonthlySales {
    /// First day of the month.
    pub month: Date,
    /// Sales.
    pub amount: Money,
    /// Gross profit.
    pub gross_profit: Money,
}

/// What a customer has brought in.
#[derive(SimpleObject)]
pub struct CustomerValue {
    /// Sales over the whole history (lifetime value).
    pub lifetime_sales: Money,
    /// Gross profit over it.
    pub lifetime_gross_profit: Money,
    /// Sales records.
    pub sales_records: i64,
    /// The first sale.
    pub first_sale_on: Option<Date>,
    /// The latest sale.
    pub last_sale_on: Option<Date>,
    /// Sales of the last twelve months.
    pub last_12_months_sales: Money,
    /// Distinct products bought.
    pub products_bought: i64,
}

/// A product similar customers bought and this one has not.
pub struct CrossSellCandidate {
    row: insight::CrossSell,
    peers: i64,
}

#[Object]
impl CrossSellCandidate {
    /// The product.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        Ok(Product(related::<product::Entity>(ctx, self.row.product_id).await?))
    }
    /// Similar customers who bought it.
    async fn buyers(&self) -> i64 {
        self.row.buyers
    }
    /// Their share of the similar customers.
    async fn share(&self) -> f64 {
        self.row.buyers as f64 / self.peers.max(1) as f64
    }
    /// What they bought of it.
    async fn amount(&self) -> Money {
        Money(self.row.amount)
    }
}

/// Up-sell and cross-sell candidates.
#[derive(SimpleObject)]
pub struct CrossSell {
    /// Similar customers: the same customer group (else the same industry)
    /// among those you may read; 0 when the customer has neither.
    pub similar_customers: i64,
    /// The candidates, most buyers first.
    pub candidates: Vec<CrossSellCandidate>,
}

/// Everything about one customer. Each field is computed only when asked.
pub struct Customer360(customer::Model);

#[Object]
impl Customer360 {
    /// The customer, with its contacts, deals, activities, tasks,
    /// touchpoints, comments and sales records.
    async fn customer(&self) -> Customer {
        Customer(self.0.clone())
    }
    /// Contacts per level of the process (levels without contacts
    /// included), with whom the activities you may read met.
    async fn contact_levels(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ContactLevelReach>> {
        let actor = actor(ctx)?;
        let mut found = insight::contact_levels(db(ctx)?, actor, self.0.id).await?;
        let mut out = Vec::new();
        for level in &actor.plugins.process.contact_levels {
            let i = found.iter().position(|f| f.level == level.key);
            let f = i.map(|i| found.swap_remove(i));
            out.push(ContactLevelReach {
                level: level.clone(),
                contacts: f.as_ref().map_or(0, |f| f.contacts),
                met: f.as_ref().map_or(0, |f| f.met),
                last_met_at: f.and_then(|f| f.last_met_at),
            });
        }
        found.sort_by(|a, b| a.level.cmp(&b.level));
        out.extend(found.into_iter().map(|f| ContactLevelReach {
            level: Named {
                key: f.level.clone(),
                name: f.level,
            },
            contacts: f.contacts,
            met: f.met,
            last_met_at: f.last_met_at,
        }));
        Ok(out)
    }
    /// Every owner the customer had, oldest first (from the audit log).
    async fn owner_history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OwnerChange>> {
        let found = insight::owner_history(db(ctx)?, actor(ctx)?, self.0.id).await?;
        Ok(found.into_iter().map(OwnerChange).collect())
    }
    /// Sales per month over the last `months` months (the current one
    /// included, company time zone), oldest first, months without sales too.
    async fn sales_by_month(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Months (default 12, at most 120).")] months: Option<u32>,
    ) -> async_graphql::Result<Vec<MonthlySales>> {
        let actor = actor(ctx)?;
        let months = months.unwrap_or(12);
        if !(1..=120).contains(&months) {
            return Err(AppError::bad("`months` must be between 1 and 120").into());
        }
        let today = period::today(actor.time_zone);
        let this = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
        let spans: Vec<(NaiveDate, NaiveDate)> = (0..months)
            .rev()
            .filter_map(|i| {
                let start = this.checked_sub_months(Months::new(i))?;
                Some((start, start.checked_add_months(Months::new(1))?))
            })
            .collect();
        let found = insight::sales_by_month(db(ctx)?, actor, self.0.id, &spans).await?;
        Ok(found
            .into_iter()
            .map(|m| MonthlySales {
                month: Date(m.month),
                amount: Money(m.amount),
                gross_profit: Money(m.gross_profit),
            })
            .collect())
    }
    /// Focus products nobody has proposed to this customer yet (未提案商材),
    /// by name; every done activity at the customer counts, whoever did it.
    async fn unproposed_focus_products(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        let found = insight::unproposed_focus_products(db(ctx)?, actor(ctx)?, self.0.id).await?;
        Ok(found.into_iter().map(Product).collect())
    }
    /// Lifetime sales and profit.
    async fn value(&self, ctx: &Context<'_>) -> async_graphql::Result<CustomerValue> {
        let actor = actor(ctx)?;
        let v = insight::value(db(ctx)?, actor, self.0.id, period::today(actor.time_zone)).await?;
        Ok(CustomerValue {
            lifetime_sales: Money(v.lifetime_sales),
            lifetime_gross_profit: Money(v.lifetime_gross_profit),
            sales_records: v.sales_records,
            first_sale_on: v.first_sale_on.map(Date),
            last_sale_on: v.last_sale_on.map(Date),
            last_12_months_sales: Money(v.last_12_months_sales),
            products_bought: v.products_bought,
        })
    }
    /// Products similar customers bought and this one never did.
    async fn cross_sell(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Candidates (default 5, at most 50).", validator(maximum = 50))] first: Option<u64>,
    ) -> async_graphql::Result<CrossSell> {
        let (peers, rows) = insight::cross_sell(db(ctx)?, actor(ctx)?, &self.0, first.unwrap_or(5)).await?;
        Ok(CrossSell {
            similar_customers: peers,
            candidates: rows.into_iter().map(|row| CrossSellCandidate { row, peers }).collect(),
        })
    }
    /// The customer's energy: points, breadth, continuity and trend.
    async fn energy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Weeks of continuity (default 12, at most 104).")] weeks: Option<u32>,
    ) -> async_graphql::Result<Energy> {
        let weeks = super::energy::continuity_weeks(weeks)?;
        let breadth = ctx.look_ahead().field("breadth").exists();
        let e = energy::energy(
            db(ctx)?,
            actor(ctx)?,
            EnergySubject::Customer(self.0.id),
            weeks,
            breadth,
        )
        .await?;
        Ok(Energy(e))
    }
}

/// Customer 360 queries.
#[derive(Default)]
pub struct InsightQuery;

#[Object]
impl InsightQuery {
    /// Everything about one customer you may read, in one query: contacts
    /// and levels reached, deals, activity history, tasks, touchpoints,
    /// comments, sales by month, owner history, focus products never
    /// proposed, lifetime value, cross-sell candidates and energy.
    async fn customer360(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Customer360> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "Customer")?;
        let found =
            access::find_readable::<customer::Entity>(db(ctx)?, actor, id, Some(customer::Column::DeletedAt)).await?;
        Ok(Customer360(found))
    }
}
