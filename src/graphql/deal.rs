//! Deals, deal members, stage history and quotes.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use entity::{
    customer, deal, deal_member, deal_quality, deal_stage_history,
    enums::{ActivityKind, ActivityStatus, CommentSubject, DealStatus, QuoteStatus, TaskStatus},
    member, quote,
};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Select, sea_query::Expr};
use uuid::Uuid;

use super::process::StageInfo;
use crate::plugins::StageOutcome;

use super::{
    activity::{Activity, activities_of},
    connection::connection_cost,
    connection::{
        Conn, OrderDirection, child_connection, page_args, parse_id, parse_opt_id, patch, to_connection, wants_total,
    },
    context::{actor, config, db, loader, writer},
    customer::Customer,
    loader::{ListOf, ListRelation, not_deleted, ordered, related},
    misc::{Comment, comments_of},
    org::{Member, in_team, search},
    scalars::{Date, Money},
    task::{Task, tasks_of},
};
use crate::{
    in_txn,
    pagination::{ChildQuery, PageArgs, Sort, SortKind, fetch_page},
    service::access::{self, find_readable},
    service::deal as svc,
};

/// An opportunity (商談).
pub struct Deal(pub deal::Model);

/// The members of a deal.
pub struct DealMembers;
impl ListRelation for DealMembers {
    type Child = deal_member::Entity;
    fn parent_col() -> deal_member::Column {
        deal_member::Column::DealId
    }
    fn company_col() -> deal_member::Column {
        deal_member::Column::CompanyId
    }
    fn shape(select: Select<deal_member::Entity>) -> Select<deal_member::Entity> {
        use sea_orm::QueryOrder;
        select
            .order_by_asc(deal_member::Column::AddedAt)
            .order_by_asc(deal_member::Column::MemberId)
    }
}

/// The live quotes of a deal.
pub struct DealQuotes;
impl ListRelation for DealQuotes {
    type Child = quote::Entity;
    fn parent_col() -> quote::Column {
        quote::Column::DealId
    }
    fn company_col() -> quote::Column {
        quote::Column::CompanyId
    }
    fn shape(select: Select<quote::Entity>) -> Select<quote::Entity> {
        ordered(
            select.filter(not_deleted(quote::Column::DeletedAt)),
            quote::Column::CreatedAt,
        )
    }
}

#[Object]
impl Deal {
    /// Deal id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// What is being sold.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Current stage key (the company's process defines the stages).
    async fn stage(&self) -> &str {
        &self.0.stage
    }
    /// The current stage as the company's process defines it (name,
    /// probability…); a stage removed from the process reads as unknown.
    async fn stage_info(&self, ctx: &Context<'_>) -> async_graphql::Result<StageInfo> {
        let set = &actor(ctx)?.plugins;
        Ok(match set.process.stage(&self.0.stage) {
            Some(s) => StageInfo::of(s),
            None => StageInfo::unknown(
                &self.0.stage,
                match self.0.status {
                    DealStatus::Open => StageOutcome::Open,
                    DealStatus::Won => StageOutcome::Won,
                    DealStatus::Lost => StageOutcome::Lost,
                },
            ),
        })
    }
    /// When the deal entered its current stage.
    async fn stage_entered_at(&self) -> DateTime<Utc> {
        self.0.stage_entered_at
    }
    /// Expected amount; null while unknown.
    async fn amount(&self) -> Option<Money> {
        self.0.amount.map(Money)
    }
    /// When the order is expected.
    async fn expected_close_date(&self) -> Option<Date> {
        self.0.expected_close_date.map(Date)
    }
    /// Open, won or lost.
    async fn status(&self) -> DealStatus {
        self.0.status
    }
    /// Why the deal was lost.
    async fn lost_reason(&self) -> Option<&str> {
        self.0.lost_reason.as_deref()
    }
    /// Where the deal came from (referral, inbound, seminar…).
    async fn origin(&self) -> Option<&str> {
        self.0.origin.as_deref()
    }
    /// Notes.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When the deal was won or lost.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    /// Time of the latest done activity on the deal.
    async fn last_activity_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_activity_at
    }
    /// Version to send back with an update.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The customer.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        related::<customer::Entity>(ctx, self.0.customer_id).await.map(Customer)
    }
    /// The member in charge.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.owner_id).await.map(Member)
    }
    /// Everyone working on the deal, the owner included.
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DealMember>> {
        let rows = loader(ctx)?.load_one(ListOf::<DealMembers>::new(self.0.id)).await?;
        Ok(rows
            .map(|r| r.iter().cloned().map(DealMember).collect())
            .unwrap_or_default())
    }
    /// Activities on the deal, latest first.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only activities with this status.")] status: Option<ActivityStatus>,
        #[graphql(desc = "Only activities of this kind.")] kind: Option<ActivityKind>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Activity>> {
        let args = page_args(after, before, first, last);
        activities_of(ctx, entity::activity::Column::DealId, self.0.id, status, kind, args).await
    }
    /// Tasks of the deal, by due date (undated last).
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only tasks with this status.")] status: Option<TaskStatus>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Task>> {
        tasks_of(
            ctx,
            entity::task::Column::DealId,
            self.0.id,
            status,
            page_args(after, before, first, last),
        )
        .await
    }
    /// Stage moves, latest first.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn stage_history(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<StageChange>> {
        let query = ChildQuery::<deal_stage_history::Entity> {
            parent_col: deal_stage_history::Column::DealId,
            filter: Condition::all(),
            sort: Sort::new(deal_stage_history::Column::ChangedAt, SortKind::Time, true),
        };
        let args = page_args(after, before, first, last);
        child_connection(ctx, "deal.stageHistory".into(), self.0.id, query, args, StageChange).await
    }
    /// Comments on the deal, oldest first.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Comment>> {
        comments_of(
            ctx,
            CommentSubject::Deal,
            self.0.id,
            page_args(after, before, first, last),
        )
        .await
    }
    /// The member who maintains the quality indicators: the assigned one,
    /// else the manager of the owner's team.
    async fn quality_maintainer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        if let Some(id) = self.0.quality_maintainer_id {
            return Ok(Some(Member(related::<member::Entity>(ctx, id).await?)));
        }
        let owner = related::<member::Entity>(ctx, self.0.owner_id).await?;
        let Some(team_id) = owner.team_id else { return Ok(None) };
        let team = related::<entity::team::Entity>(ctx, team_id).await?;
        let Some(manager) = team.manager_id else {
            return Ok(None);
        };
        Ok(Some(Member(related::<member::Entity>(ctx, manager).await?)))
    }
    /// Quality indicators set on the deal (the company's plugin names them).
    async fn quality(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<QualityIndicator>> {
        let rows = loader(ctx)?.load_one(ListOf::<DealQualities>::new(self.0.id)).await?;
        Ok(rows
            .map(|r| r.iter().cloned().map(QualityIndicator).collect())
            .unwrap_or_default())
    }
    /// Quotes on the deal, oldest first.
    async fn quotes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Quote>> {
        let rows = loader(ctx)?.load_one(ListOf::<DealQuotes>::new(self.0.id)).await?;
        Ok(rows.map(|r| r.iter().cloned().map(Quote).collect()).unwrap_or_default())
    }
}

/// The quality indicators of a deal.
pub struct DealQualities;
impl ListRelation for DealQualities {
    type Child = deal_quality::Entity;
    fn parent_col() -> deal_quality::Column {
        deal_quality::Column::DealId
    }
    fn company_col() -> deal_quality::Column {
        deal_quality::Column::CompanyId
    }
    fn shape(select: Select<deal_quality::Entity>) -> Select<deal_quality::Entity> {
        use sea_orm::QueryOrder;
        select.order_by_asc(deal_quality::Column::Indicator)
    }
}

/// One quality indicator of a deal (商談クオリティ).
pub struct QualityIndicator(pub deal_quality::Model);

#[Object]
impl QualityIndicator {
    /// Indicator key (the company's plugin names it).
    async fn indicator(&self) -> &str {
        &self.0.indicator
    }
    /// Display name from the company's process (the key when it is no longer defined).
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let set = &actor(ctx)?.plugins;
        let found = set
            .process
            .quality_indicators
            .iter()
            .find(|q| q.key == self.0.indicator);
        Ok(found
            .map(|q| q.name.clone())
            .unwrap_or_else(|| self.0.indicator.clone()))
    }
    /// Whether it holds for the deal.
    async fn checked(&self) -> bool {
        self.0.checked
    }
    /// Who set it last.
    async fn changed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.changed_by).await.map(Member)
    }
    /// When.
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
}

/// A member on a deal, with their part in it.
pub struct DealMember(pub deal_member::Model);

#[Object]
impl DealMember {
    /// The member.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.member_id).await.map(Member)
    }
    /// What the member does on the deal (sales, engineering…).
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
    }
    /// When the member joined the deal.
    async fn added_at(&self) -> DateTime<Utc> {
        self.0.added_at
    }
}

/// One move of a deal between stages.
pub struct StageChange(pub deal_stage_history::Model);

#[Object]
impl StageChange {
    /// Entry id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Stage left; null when the deal was created.
    async fn from_stage(&self) -> Option<&str> {
        self.0.from_stage.as_deref()
    }
    /// Stage entered.
    async fn to_stage(&self) -> &str {
        &self.0.to_stage
    }
    /// When.
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
    /// Who moved it.
    async fn changed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.changed_by).await.map(Member)
    }
}

/// A quote on a deal (見積).
pub struct Quote(pub quote::Model);

#[Object]
impl Quote {
    /// Quote id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Quote number as printed.
    async fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Quoted amount.
    async fn amount(&self) -> Money {
        Money(self.0.amount)
    }
    /// Draft, sent, accepted, rejected or expired.
    async fn status(&self) -> QuoteStatus {
        self.0.status
    }
    /// Date of issue.
    async fn issued_on(&self) -> Option<Date> {
        self.0.issued_on.map(Date)
    }
    /// Last day the quote holds.
    async fn valid_until(&self) -> Option<Date> {
        self.0.valid_until.map(Date)
    }
    /// Version to send back with an update.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The deal.
    async fn deal(&self, ctx: &Context<'_>) -> async_graphql::Result<Deal> {
        related::<deal::Entity>(ctx, self.0.deal_id).await.map(Deal)
    }
    /// Follow-up tasks of the quote.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only tasks with this status.")] status: Option<TaskStatus>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Task>> {
        tasks_of(
            ctx,
            entity::task::Column::QuoteId,
            self.0.id,
            status,
            page_args(after, before, first, last),
        )
        .await
    }
}

/// The deals of a parent (customer…), newest first, batched across parents.
pub async fn deals_of(
    ctx: &Context<'_>,
    parent_col: deal::Column,
    parent: Uuid,
    status: Option<DealStatus>,
    args: PageArgs,
) -> async_graphql::Result<Conn<Deal>> {
    let mut filter = not_deleted(deal::Column::DeletedAt);
    if let Some(s) = status {
        filter = filter.add(deal::Column::Status.eq(s));
    }
    let query = ChildQuery::<deal::Entity> {
        parent_col,
        filter,
        sort: Sort::new(deal::Column::CreatedAt, SortKind::Time, true),
    };
    let ident = format!("deals.{parent_col:?}.{status:?}");
    child_connection(ctx, ident, parent, query, args, Deal).await
}

/// Filter of the deal list; all conditions must hold.
#[derive(InputObject, Default)]
pub struct DealFilter {
    /// Owned by this member.
    pub owner_id: Option<ID>,
    /// Owned by a member of this team or a team below it.
    pub team_id: Option<ID>,
    /// This member is on the deal (owner or deal member).
    pub member_id: Option<ID>,
    /// With this customer.
    pub customer_id: Option<ID>,
    /// In one of these stages.
    pub stages: Option<Vec<String>>,
    /// With this status.
    pub status: Option<DealStatus>,
    /// Expected to close on or after this date.
    pub expected_close_from: Option<Date>,
    /// Expected to close on or before this date.
    pub expected_close_to: Option<Date>,
    /// In the current stage since before this time (stalled deals).
    pub stage_entered_before: Option<DateTime<Utc>>,
    /// No done activity since this time (deals without any included).
    pub no_activity_since: Option<DateTime<Utc>>,
    /// Name contains this text (case-insensitive).
    pub search: Option<String>,
}

/// What to sort deals by.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum DealOrderField {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Name.
    Name,
    /// Amount (unknown amounts last).
    Amount,
    /// Expected close date (undated last).
    ExpectedCloseDate,
    /// Time in the current stage.
    StageEnteredAt,
    /// Latest activity (deals without activity last).
    LastActivityAt,
}

/// Sort order of the deal list.
#[derive(InputObject, Default)]
pub struct DealOrder {
    /// Sort key.
    pub field: DealOrderField,
    /// Direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Deal queries.
#[derive(Default)]
pub struct DealQuery;

#[Object]
impl DealQuery {
    /// A deal by id.
    async fn deal(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Deal> {
        let id = parse_id(&id, "Deal")?;
        let row = super::loader::readable::<deal::Entity>(ctx, id, deal::Column::DeletedAt, |d| d.deleted_at.is_some());
        Ok(Deal(row.await?))
    }

    /// A quote by id.
    async fn quote(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Quote> {
        let actor = actor(ctx)?;
        Ok(Quote(
            find_readable::<quote::Entity>(db(ctx)?, actor, parse_id(&id, "Quote")?, Some(quote::Column::DeletedAt))
                .await?,
        ))
    }

    /// The company's deals.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn deals(
        &self,
        ctx: &Context<'_>,
        filter: Option<DealFilter>,
        order_by: Option<DealOrder>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Deal>> {
        let actor = actor(ctx)?;
        let db = db(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let q = deal_select(db, actor, filter.unwrap_or_default()).await?;
        let order = order_by.unwrap_or_default();
        let desc = order.direction.desc();
        let sort = match order.field {
            DealOrderField::CreatedAt => Sort::new(deal::Column::CreatedAt, SortKind::Time, desc),
            DealOrderField::UpdatedAt => Sort::new(deal::Column::UpdatedAt, SortKind::Time, desc),
            DealOrderField::Name => Sort::new(deal::Column::Name, SortKind::Text, desc),
            DealOrderField::Amount => Sort::nullable(deal::Column::Amount, SortKind::Int, desc),
            DealOrderField::ExpectedCloseDate => Sort::nullable(deal::Column::ExpectedCloseDate, SortKind::Date, desc),
            DealOrderField::StageEnteredAt => Sort::new(deal::Column::StageEnteredAt, SortKind::Time, desc),
            DealOrderField::LastActivityAt => Sort::nullable(deal::Column::LastActivityAt, SortKind::Time, desc),
        };
        let page = fetch_page(db, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Deal))
    }
}

/// Input of `createDeal`.
#[derive(InputObject)]
pub struct CreateDealInput {
    /// Customer.
    pub customer_id: ID,
    /// What is being sold.
    pub name: String,
    /// First stage key.
    pub stage: String,
    /// Member in charge (default: you).
    pub owner_id: Option<ID>,
    /// Expected amount.
    pub amount: Option<Money>,
    /// Expected order date.
    pub expected_close_date: Option<Date>,
    /// Where the deal came from (referral, inbound, seminar…).
    pub origin: Option<String>,
    /// Notes.
    pub description: Option<String>,
    /// Other members working on the deal.
    #[graphql(default)]
    pub member_ids: Vec<ID>,
}

/// Input of `updateDeal`: omitted fields stay, `null` clears.
#[derive(InputObject)]
pub struct UpdateDealInput {
    /// The deal.
    pub id: ID,
    /// The version you read; a stale one gets CONFLICT.
    pub version: i32,
    /// What is being sold.
    pub name: Option<String>,
    /// Member in charge.
    pub owner_id: Option<ID>,
    /// Expected amount.
    pub amount: MaybeUndefined<Money>,
    /// Expected order date.
    pub expected_close_date: MaybeUndefined<Date>,
    /// Origin.
    pub origin: MaybeUndefined<String>,
    /// Notes.
    pub description: MaybeUndefined<String>,
}

/// Fields of a quote; on update omitted fields stay, `null` clears.
#[derive(InputObject)]
pub struct QuoteInput {
    /// Title (required on create).
    pub title: Option<String>,
    /// Quoted amount (required on create).
    pub amount: Option<Money>,
    /// Status (default DRAFT).
    pub status: Option<QuoteStatus>,
    /// Quote number.
    pub number: MaybeUndefined<String>,
    /// Date of issue.
    pub issued_on: MaybeUndefined<Date>,
    /// Last day the quote holds.
    pub valid_until: MaybeUndefined<Date>,
}

impl QuoteInput {
    fn into_fields(self) -> svc::QuoteFields {
        svc::QuoteFields {
            title: self.title,
            amount: self.amount.map(|m| m.0),
            status: self.status,
            number: patch(self.number, Ok).unwrap_or_default(),
            issued_on: patch(self.issued_on, |d| Ok(d.0)).unwrap_or_default(),
            valid_until: patch(self.valid_until, |d| Ok(d.0)).unwrap_or_default(),
        }
    }
}

/// Deal mutations.
#[derive(Default)]
pub struct DealMutation;

#[Object]
impl DealMutation {
    /// Creates an open deal in its first stage; the owner becomes a deal member.
    async fn create_deal(&self, ctx: &Context<'_>, input: CreateDealInput) -> async_graphql::Result<Deal> {
        let actor = writer(ctx)?;
        let f = svc::NewDeal {
            customer_id: parse_id(&input.customer_id, "Customer")?,
            owner_id: parse_opt_id(input.owner_id.as_ref(), "Member")?,
            name: input.name,
            stage: input.stage,
            amount: input.amount.map(|m| m.0),
            expected_close_date: input.expected_close_date.map(|d| d.0),
            origin: input.origin,
            description: input.description,
            member_ids: input
                .member_ids
                .iter()
                .map(|id| parse_id(id, "Member"))
                .collect::<Result<_, _>>()?,
        };
        Ok(Deal(in_txn!(ctx, |txn| svc::create(&txn, actor, f.clone()))))
    }

    /// Changes a deal's fields (send the version you read).
    async fn update_deal(&self, ctx: &Context<'_>, input: UpdateDealInput) -> async_graphql::Result<Deal> {
        let actor = writer(ctx)?;
        let id = parse_id(&input.id, "Deal")?;
        let p = svc::DealPatch {
            name: input.name,
            owner_id: parse_opt_id(input.owner_id.as_ref(), "Member")?,
            amount: patch(input.amount, |m| Ok(m.0))?,
            expected_close_date: patch(input.expected_close_date, |d| Ok(d.0))?,
            origin: patch(input.origin, Ok)?,
            description: patch(input.description, Ok)?,
        };
        Ok(Deal(in_txn!(ctx, |txn| svc::update(
            &txn,
            actor,
            id,
            input.version,
            p.clone()
        ))))
    }

    /// Moves an open deal to another stage; the move is kept in its stage history.
    async fn move_deal_stage(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        stage: String,
    ) -> async_graphql::Result<Deal> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Deal")?;
        Ok(Deal(in_txn!(ctx, |txn| svc::move_stage(
            &txn, actor, id, version, &stage
        ))))
    }

    /// Marks a deal WON or LOST (LOST needs `lostReason`), optionally moving it to a closing stage.
    async fn close_deal(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        outcome: DealStatus,
        lost_reason: Option<String>,
        stage: Option<String>,
    ) -> async_graphql::Result<Deal> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Deal")?;
        Ok(Deal(in_txn!(ctx, |txn| svc::close(
            &txn,
            actor,
            id,
            version,
            outcome,
            lost_reason.clone(),
            stage.clone()
        ))))
    }

    /// Reopens a won or lost deal in `stage`.
    async fn reopen_deal(&self, ctx: &Context<'_>, id: ID, version: i32, stage: String) -> async_graphql::Result<Deal> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Deal")?;
        Ok(Deal(in_txn!(ctx, |txn| svc::reopen(&txn, actor, id, version, &stage))))
    }

    /// Soft-deletes a deal.
    async fn delete_deal(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Deal> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Deal")?;
        Ok(Deal(in_txn!(ctx, |txn| svc::delete(&txn, actor, id, version))))
    }

    /// Adds a member to a deal (sales, engineering, accounting…).
    async fn add_deal_member(
        &self,
        ctx: &Context<'_>,
        deal_id: ID,
        member_id: ID,
        role: Option<String>,
    ) -> async_graphql::Result<DealMember> {
        let actor = writer(ctx)?;
        let (deal_id, member_id) = (parse_id(&deal_id, "Deal")?, parse_id(&member_id, "Member")?);
        Ok(DealMember(in_txn!(ctx, |txn| svc::add_member(
            &txn,
            actor,
            deal_id,
            member_id,
            role.clone()
        ))))
    }

    /// Removes a member from a deal (the owner stays).
    async fn remove_deal_member(&self, ctx: &Context<'_>, deal_id: ID, member_id: ID) -> async_graphql::Result<bool> {
        let actor = writer(ctx)?;
        let (deal_id, member_id) = (parse_id(&deal_id, "Deal")?, parse_id(&member_id, "Member")?);
        in_txn!(ctx, |txn| svc::remove_member(&txn, actor, deal_id, member_id));
        Ok(true)
    }

    /// Checks or unchecks a quality indicator of a deal (its quality maintainer only).
    async fn set_deal_quality(
        &self,
        ctx: &Context<'_>,
        deal_id: ID,
        indicator: String,
        checked: bool,
    ) -> async_graphql::Result<QualityIndicator> {
        let actor = writer(ctx)?;
        let deal_id = parse_id(&deal_id, "Deal")?;
        Ok(QualityIndicator(in_txn!(ctx, |txn| svc::set_quality(
            &txn, actor, deal_id, &indicator, checked
        ))))
    }

    /// Assigns who maintains a deal's quality indicators; `memberId: null`
    /// returns it to the owner's team manager (the owner's managers and admins).
    async fn assign_quality_maintainer(
        &self,
        ctx: &Context<'_>,
        deal_id: ID,
        member_id: Option<ID>,
    ) -> async_graphql::Result<Deal> {
        let actor = writer(ctx)?;
        let deal_id = parse_id(&deal_id, "Deal")?;
        let member = parse_opt_id(member_id.as_ref(), "Member")?;
        Ok(Deal(in_txn!(ctx, |txn| svc::assign_quality_maintainer(
            &txn, actor, deal_id, member
        ))))
    }

    /// Creates a quote on a deal.
    async fn create_quote(&self, ctx: &Context<'_>, deal_id: ID, input: QuoteInput) -> async_graphql::Result<Quote> {
        let actor = writer(ctx)?;
        let deal_id = parse_id(&deal_id, "Deal")?;
        let f = input.into_fields();
        Ok(Quote(in_txn!(ctx, |txn| svc::create_quote(
            &txn,
            actor,
            deal_id,
            f.clone()
        ))))
    }

    /// Changes a quote (send the version you read).
    async fn update_quote(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: QuoteInput,
    ) -> async_graphql::Result<Quote> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Quote")?;
        let f = input.into_fields();
        Ok(Quote(in_txn!(ctx, |txn| svc::update_quote(
            &txn,
            actor,
            id,
            version,
            f.clone()
        ))))
    }

    /// Soft-deletes a quote.
    async fn delete_quote(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Quote> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Quote")?;
        Ok(Quote(in_txn!(ctx, |txn| svc::delete_quote(&txn, actor, id, version))))
    }
}

/// The deals a list or an export shows: the caller's readable ones, not
/// deleted, narrowed by `f`.
pub async fn deal_select(
    db: &sea_orm::DatabaseConnection,
    actor: &crate::service::Actor,
    f: DealFilter,
) -> async_graphql::Result<sea_orm::Select<deal::Entity>> {
    let mut q = access::select::<deal::Entity>(actor).filter(deal::Column::DeletedAt.is_null());
    if let Some(owner) = parse_opt_id(f.owner_id.as_ref(), "Member")? {
        q = q.filter(deal::Column::OwnerId.eq(owner));
    }
    if let Some(team) = &f.team_id {
        q = q.filter(in_team(db, actor, team, deal::Column::OwnerId).await?);
    }
    if let Some(m) = parse_opt_id(f.member_id.as_ref(), "Member")? {
        let on_deal = deal_member::Entity::find()
            .select_only()
            .column(deal_member::Column::DealId)
            .filter(deal_member::Column::CompanyId.eq(actor.company_id))
            .filter(deal_member::Column::MemberId.eq(m))
            .into_query();
        q = q.filter(deal::Column::Id.in_subquery(on_deal));
    }
    if let Some(c) = parse_opt_id(f.customer_id.as_ref(), "Customer")? {
        q = q.filter(deal::Column::CustomerId.eq(c));
    }
    if let Some(stages) = f.stages {
        q = q.filter(deal::Column::Stage.is_in(stages));
    }
    if let Some(s) = f.status {
        q = q.filter(deal::Column::Status.eq(s));
    }
    if let Some(d) = f.expected_close_from {
        q = q.filter(deal::Column::ExpectedCloseDate.gte(d));
    }
    if let Some(d) = f.expected_close_to {
        q = q.filter(deal::Column::ExpectedCloseDate.lte(d));
    }
    if let Some(t) = f.stage_entered_before {
        q = q.filter(deal::Column::StageEnteredAt.lt(t));
    }
    if let Some(t) = f.no_activity_since {
        q = q.filter(
            Condition::any()
                .add(deal::Column::LastActivityAt.is_null())
                .add(deal::Column::LastActivityAt.lt(t)),
        );
    }
    if let Some(text) = &f.search {
        q = q.filter(search(&[Expr::col(deal::Column::Name)], text)?);
    }
    Ok(q)
}
