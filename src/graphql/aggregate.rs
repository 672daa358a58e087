//! The BI aggregate: one generic GROUP BY query (also served as CSV, see `http`).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::{
    connection::parse_opt_id,
    context::{actor, db},
    scalars::Date,
};
use crate::service::aggregate::{self, AggregateFilter, AggregateRequest, Fact};

/// What to keep. Dates are days in the company's time zone, both included;
/// by default the year up to today.
#[derive(InputObject, Default)]
pub struct AggregateFilterInput {
    /// First day.
    pub from: Option<Date>,
    /// Last day.
    pub to: Option<Date>,
    /// Rows of this member (owner of deals, assignee of tasks).
    pub member_id: Option<ID>,
    /// Rows of members of this team or a team below it.
    pub team_id: Option<ID>,
    /// Rows of this customer.
    pub customer_id: Option<ID>,
    /// Rows of customers in this group.
    pub group_id: Option<ID>,
    /// Activities proposing this product; sales records of it.
    pub product_id: Option<ID>,
    /// Deals in this stage.
    pub stage: Option<String>,
    /// Activities or tasks of this kind (`visit`, `call`…).
    pub kind: Option<String>,
    /// Rows with this status (`done`, `open`, `won`…).
    pub status: Option<String>,
}

impl AggregateFilterInput {
    /// The service's filter, ids checked.
    pub fn into_filter(self) -> async_graphql::Result<AggregateFilter> {
        let id = |v: Option<ID>, what| parse_opt_id(v.as_ref(), what);
        Ok(AggregateFilter {
            from: self.from.map(|d| d.0),
            to: self.to.map(|d| d.0),
            member_id: id(self.member_id, "Member")?,
            team_id: id(self.team_id, "Team")?,
            customer_id: id(self.customer_id, "Customer")?,
            group_id: id(self.group_id, "CustomerGroup")?,
            product_id: id(self.product_id, "Product")?,
            stage: self.stage,
            kind: self.kind,
            status: self.status,
        })
    }
}

/// One group of an aggregate.
#[derive(SimpleObject)]
pub struct AggregateRow {
    /// Per dimension: the id, key, or first day of the time bucket (null: no
    /// value, such as a customer in no group).
    pub keys: Vec<Option<String>>,
    /// Per dimension: the name to show (of the member, team, customer, group,
    /// product or deal; the key for other dimensions).
    pub labels: Vec<Option<String>>,
    /// Per measure, in the order asked (null: nothing to average).
    pub values: Vec<Option<f64>>,
}

/// The answer of an aggregate.
#[derive(SimpleObject)]
pub struct AggregateResult {
    /// The fact aggregated.
    pub fact: String,
    /// The dimensions, in the order of `keys`.
    pub dimensions: Vec<String>,
    /// The measures, in the order of `values`.
    pub measures: Vec<String>,
    /// The first day covered.
    pub from: Date,
    /// The last day covered.
    pub to: Date,
    /// The groups, ordered by their keys.
    pub rows: Vec<AggregateRow>,
    /// True when more groups exist than `limit`.
    pub truncated: bool,
}

/// A fact and what it can be grouped by and measured with.
#[derive(SimpleObject)]
pub struct AggregateFact {
    /// The fact's name.
    pub name: String,
    /// Its dimensions.
    pub dimensions: Vec<String>,
    /// Its measures (`count`, `count_distinct:<field>`, `sum|avg|min|max:<field>`).
    pub measures: Vec<String>,
}

/// Aggregate queries.
#[derive(Default)]
pub struct AggregateQuery;

#[Object]
impl AggregateQuery {
    /// Aggregates a fact (`activities`, `deals`, `tasks`, `sales_records`)
    /// over the rows you may read: grouped by the dimensions (up to 5, such
    /// as `member`, `customer_group`, `stage`, `month`), with the measures
    /// (up to 10, such as `count`, `sum:amount`, `count_distinct:customer`).
    /// One statement; an unknown fact, dimension or measure is BAD_USER_INPUT.
    async fn aggregate(
        &self,
        ctx: &Context<'_>,
        fact: String,
        dimensions: Vec<String>,
        measures: Vec<String>,
        filter: Option<AggregateFilterInput>,
        #[graphql(desc = "Most rows (default 1,000, at most 10,000).")] limit: Option<u64>,
    ) -> async_graphql::Result<AggregateResult> {
        let actor = actor(ctx)?;
        let req = AggregateRequest {
            fact: Fact::parse(&fact)?,
            dimensions,
            measures,
            filter: filter.unwrap_or_default().into_filter()?,
            limit: limit.unwrap_or(1_000),
        };
        let out = aggregate::run(db(ctx)?, actor, &req).await?;
        Ok(AggregateResult {
            fact: req.fact.name().into(),
            dimensions: req.dimensions,
            measures: req.measures,
            from: Date(out.from),
            to: Date(out.to),
            rows: out
                .rows
                .into_iter()
                .map(|r| AggregateRow {
                    keys: r.keys,
                    labels: r.labels,
                    values: r.values,
                })
                .collect(),
            truncated: out.truncated,
        })
    }

    /// Every fact with its dimensions and measures.
    async fn aggregate_catalog(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AggregateFact>> {
        actor(ctx)?;
        Ok(Fact::ALL
            .iter()
            .map(|(name, fact)| AggregateFact {
                name: (*name).into(),
                dimensions: fact.dimensions().into_iter().map(String::from).collect(),
                measures: fact.measures(),
            })
            .collect())
    }
}
