//! Products, sales records, targets and comments.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{
    comment, customer,
    enums::{CommentSubject, PeriodKind},
    member, product, sales_record, target, team,
};
use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

use super::{
    connection::connection_cost,
    connection::{Conn, child_connection, page_args, parse_id, parse_opt_id, to_connection, wants_total},
    context::{actor, config, db, writer},
    customer::Customer,
    loader::{not_deleted, related},
    org::{Member, Team, search},
    scalars::{Date, Money},
};
use crate::{
    error::AppError,
    in_txn,
    pagination::{ChildQuery, PageArgs, Sort, SortKind, fetch_page},
    service::access::{self, find_readable},
    service::{catalog, comment as comments, plan},
};

/// Something the company sells (商材).
pub struct Product(pub product::Model);

#[Object]
impl Product {
    /// Product id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Code in the sales-management master.
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Category.
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    /// A focus product the plan says must be proposed.
    async fn is_focus(&self) -> bool {
        self.0.is_focus
    }
    /// List price.
    async fn unit_price(&self) -> Option<Money> {
        self.0.unit_price.map(Money)
    }
}

/// An actual sale imported from the sales-management system.
pub struct SalesRecord(pub sales_record::Model);

#[Object]
impl SalesRecord {
    /// Record id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Date of the sale.
    async fn sold_on(&self) -> Date {
        Date(self.0.sold_on)
    }
    /// Sales amount.
    async fn amount(&self) -> Money {
        Money(self.0.amount)
    }
    /// Gross profit.
    async fn gross_profit(&self) -> Money {
        Money(self.0.gross_profit)
    }
    /// Units sold.
    async fn quantity(&self) -> Option<i32> {
        self.0.quantity
    }
    /// Id in the source system.
    async fn external_ref(&self) -> &str {
        &self.0.external_ref
    }
    /// The customer billed.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        related::<customer::Entity>(ctx, self.0.customer_id).await.map(Customer)
    }
    /// The product sold.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        let Some(id) = self.0.product_id else { return Ok(None) };
        Ok(Some(Product(related::<product::Entity>(ctx, id).await?)))
    }
    /// The member credited.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        let Some(id) = self.0.member_id else { return Ok(None) };
        Ok(Some(Member(related::<member::Entity>(ctx, id).await?)))
    }
}

/// A plan value (目標) for a member or a team over a period.
pub struct Target(pub target::Model);

#[Object]
impl Target {
    /// Target id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Week, month, quarter or year.
    async fn period_kind(&self) -> PeriodKind {
        self.0.period_kind
    }
    /// First day of the period.
    async fn period_start(&self) -> Date {
        Date(self.0.period_start)
    }
    /// Metric key (visits_done, sales_amount…).
    async fn metric(&self) -> &str {
        &self.0.metric
    }
    /// Target value (money in minor units).
    async fn value(&self) -> Money {
        Money(self.0.value)
    }
    /// The member the target is for.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        let Some(id) = self.0.member_id else { return Ok(None) };
        Ok(Some(Member(related::<member::Entity>(ctx, id).await?)))
    }
    /// The team the target is for.
    async fn team(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Team>> {
        let Some(id) = self.0.team_id else { return Ok(None) };
        Ok(Some(Team(related::<team::Entity>(ctx, id).await?)))
    }
}

/// A comment (advice) on a daily report, deal, activity or customer.
pub struct Comment(pub comment::Model);

#[Object]
impl Comment {
    /// Comment id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Text.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// What kind of record it is on.
    async fn subject_type(&self) -> CommentSubject {
        self.0.subject_type
    }
    /// The record it is on.
    async fn subject_id(&self) -> ID {
        self.0.subject_id.into()
    }
    /// Written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last edited.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.author_id).await.map(Member)
    }
    /// The comment this one replies to.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Comment>> {
        let Some(id) = self.0.parent_id else { return Ok(None) };
        Ok(Some(Comment(related::<comment::Entity>(ctx, id).await?)))
    }
}

/// The comments on a record, oldest first, batched across records.
pub async fn comments_of(
    ctx: &Context<'_>,
    subject: CommentSubject,
    subject_id: Uuid,
    args: PageArgs,
) -> async_graphql::Result<Conn<Comment>> {
    let filter = not_deleted(comment::Column::DeletedAt).add(comment::Column::SubjectType.eq(subject));
    let query = ChildQuery::<comment::Entity> {
        parent_col: comment::Column::SubjectId,
        filter,
        sort: Sort::new(comment::Column::CreatedAt, SortKind::Time, false),
    };
    child_connection(ctx, format!("comments.{subject:?}"), subject_id, query, args, Comment).await
}

/// Filter of the sales record list.
#[derive(InputObject, Default)]
pub struct SalesRecordFilter {
    /// For this customer.
    pub customer_id: Option<ID>,
    /// Of this product.
    pub product_id: Option<ID>,
    /// Credited to this member.
    pub member_id: Option<ID>,
    /// Sold on or after this day.
    pub from: Option<Date>,
    /// Sold on or before this day.
    pub to: Option<Date>,
}

/// Filter of the target list.
#[derive(InputObject, Default)]
pub struct TargetFilter {
    /// For this member.
    pub member_id: Option<ID>,
    /// For this team.
    pub team_id: Option<ID>,
    /// Of this period length.
    pub period_kind: Option<PeriodKind>,
    /// Periods starting on or after this day.
    pub from: Option<Date>,
    /// Periods starting on or before this day.
    pub to: Option<Date>,
    /// For this metric.
    pub metric: Option<String>,
}

/// Product, sales, target and comment queries.
#[derive(Default)]
pub struct MiscQuery;

#[Object]
impl MiscQuery {
    /// A product by id.
    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Product> {
        let actor = actor(ctx)?;
        Ok(Product(
            find_readable::<product::Entity>(
                db(ctx)?,
                actor,
                parse_id(&id, "Product")?,
                Some(product::Column::DeletedAt),
            )
            .await?,
        ))
    }

    /// The product master, by name.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Focus products only (true) or others only (false).")] is_focus: Option<bool>,
        #[graphql(desc = "Name or code contains this text.")] search: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Product>> {
        let actor = actor(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let mut q = access::select::<product::Entity>(actor).filter(product::Column::DeletedAt.is_null());
        if let Some(f) = is_focus {
            q = q.filter(product::Column::IsFocus.eq(f));
        }
        if let Some(text) = &search {
            q = q.filter(self::search(
                &[Expr::col(product::Column::Name), Expr::col(product::Column::Code)],
                text,
            )?);
        }
        let sort = Sort::new(product::Column::Name, SortKind::Text, false);
        let page = fetch_page(db(ctx)?, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Product))
    }

    /// Sales records, latest first.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn sales_records(
        &self,
        ctx: &Context<'_>,
        filter: Option<SalesRecordFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<SalesRecord>> {
        let actor = actor(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let f = filter.unwrap_or_default();
        let mut q = access::select::<sales_record::Entity>(actor);
        if let Some(c) = parse_opt_id(f.customer_id.as_ref(), "Customer")? {
            q = q.filter(sales_record::Column::CustomerId.eq(c));
        }
        if let Some(p) = parse_opt_id(f.product_id.as_ref(), "Product")? {
            q = q.filter(sales_record::Column::ProductId.eq(p));
        }
        if let Some(m) = parse_opt_id(f.member_id.as_ref(), "Member")? {
            q = q.filter(sales_record::Column::MemberId.eq(m));
        }
        if let Some(d) = f.from {
            q = q.filter(sales_record::Column::SoldOn.gte(d));
        }
        if let Some(d) = f.to {
            q = q.filter(sales_record::Column::SoldOn.lte(d));
        }
        let sort = Sort::new(sales_record::Column::SoldOn, SortKind::Date, true);
        let page = fetch_page(db(ctx)?, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, SalesRecord))
    }

    /// Targets, by period start.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn targets(
        &self,
        ctx: &Context<'_>,
        filter: Option<TargetFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Target>> {
        let actor = actor(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let f = filter.unwrap_or_default();
        let mut q = access::select::<target::Entity>(actor);
        if let Some(m) = parse_opt_id(f.member_id.as_ref(), "Member")? {
            q = q.filter(target::Column::MemberId.eq(m));
        }
        if let Some(t) = parse_opt_id(f.team_id.as_ref(), "Team")? {
            q = q.filter(target::Column::TeamId.eq(t));
        }
        if let Some(k) = f.period_kind {
            q = q.filter(target::Column::PeriodKind.eq(k));
        }
        if let Some(d) = f.from {
            q = q.filter(target::Column::PeriodStart.gte(d));
        }
        if let Some(d) = f.to {
            q = q.filter(target::Column::PeriodStart.lte(d));
        }
        if let Some(m) = f.metric {
            q = q.filter(target::Column::Metric.eq(m));
        }
        let sort = Sort::new(target::Column::PeriodStart, SortKind::Date, false);
        let page = fetch_page(db(ctx)?, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Target))
    }

    /// A comment by id.
    async fn comment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Comment> {
        let actor = actor(ctx)?;
        Ok(Comment(
            find_readable::<comment::Entity>(
                db(ctx)?,
                actor,
                parse_id(&id, "Comment")?,
                Some(comment::Column::DeletedAt),
            )
            .await?,
        ))
    }
}

/// Input of `createProduct` / `updateProduct`.
#[derive(InputObject)]
pub struct ProductInput {
    /// Code in the sales-management master (unique in the company).
    pub code: Option<String>,
    /// Display name.
    pub name: String,
    /// Category.
    pub category: Option<String>,
    /// A focus product.
    #[graphql(default)]
    pub is_focus: bool,
    /// List price.
    pub unit_price: Option<Money>,
}

impl ProductInput {
    fn into_fields(self) -> catalog::ProductFields {
        catalog::ProductFields {
            code: self.code,
            name: self.name,
            category: self.category,
            is_focus: self.is_focus,
            unit_price: self.unit_price.map(|m| m.0),
        }
    }
}

/// Input of `setTarget`: exactly one of `memberId` and `teamId`.
#[derive(InputObject)]
pub struct TargetInput {
    /// The member the target is for.
    pub member_id: Option<ID>,
    /// The team the target is for.
    pub team_id: Option<ID>,
    /// Period length.
    pub period_kind: PeriodKind,
    /// First day of the period (a Monday, the 1st of a month…).
    pub period_start: Date,
    /// Metric key (visits_done, focus_proposals, sales_amount…).
    pub metric: String,
    /// Target value (money in minor units).
    pub value: Money,
}

/// Product, target and comment mutations.
#[derive(Default)]
pub struct MiscMutation;

#[Object]
impl MiscMutation {
    /// Adds a product to the master (admins).
    async fn create_product(&self, ctx: &Context<'_>, input: ProductInput) -> async_graphql::Result<Product> {
        let actor = writer(ctx)?;
        let f = input.into_fields();
        Ok(Product(in_txn!(ctx, |txn| catalog::create_product(
            &txn,
            actor,
            f.clone()
        ))))
    }

    /// Changes a product (admins).
    async fn update_product(&self, ctx: &Context<'_>, id: ID, input: ProductInput) -> async_graphql::Result<Product> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Product")?;
        let f = input.into_fields();
        Ok(Product(in_txn!(ctx, |txn| catalog::update_product(
            &txn,
            actor,
            id,
            f.clone()
        ))))
    }

    /// Retires a product (admins); past activities keep showing it.
    async fn delete_product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Product")?;
        in_txn!(ctx, |txn| catalog::delete_product(&txn, actor, id));
        Ok(true)
    }

    /// Sets the target of a member or team for a period and metric (managers and admins).
    async fn set_target(&self, ctx: &Context<'_>, input: TargetInput) -> async_graphql::Result<Target> {
        let actor = writer(ctx)?;
        let subject = match (
            parse_opt_id(input.member_id.as_ref(), "Member")?,
            parse_opt_id(input.team_id.as_ref(), "Team")?,
        ) {
            (Some(m), None) => plan::Subject::Member(m),
            (None, Some(t)) => plan::Subject::Team(t),
            _ => return Err(AppError::bad("give exactly one of `memberId` and `teamId`").into()),
        };
        let (kind, start, value) = (input.period_kind, input.period_start.0, input.value.0);
        Ok(Target(in_txn!(ctx, |txn| plan::set(
            &txn,
            actor,
            subject,
            kind,
            start,
            &input.metric,
            value
        ))))
    }

    /// Removes a target (managers and admins).
    async fn delete_target(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Target")?;
        in_txn!(ctx, |txn| plan::delete(&txn, actor, id));
        Ok(true)
    }

    /// Comments on a daily report, deal, activity or customer; `parentId` makes it a reply.
    /// The record's owners, its followers and the author replied to are notified, the
    /// members in `mentionIds` with a mention; you follow the record from now on.
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        subject_type: CommentSubject,
        subject_id: ID,
        body: String,
        parent_id: Option<ID>,
        #[graphql(desc = "Members to notify by name; each must be able to read the record.")] mention_ids: Option<
            Vec<ID>,
        >,
    ) -> async_graphql::Result<Comment> {
        let actor = writer(ctx)?;
        let subject_id = parse_id(&subject_id, "Record")?;
        let parent = parse_opt_id(parent_id.as_ref(), "Comment")?;
        let mut mentions = Vec::new();
        for id in mention_ids.unwrap_or_default() {
            let id = parse_id(&id, "Member")?;
            if !mentions.contains(&id) {
                mentions.push(id);
            }
        }
        Ok(Comment(in_txn!(ctx, |txn| comments::add(
            &txn,
            actor,
            subject_type,
            subject_id,
            &body,
            parent,
            &mentions
        ))))
    }

    /// Edits your comment.
    async fn update_comment(&self, ctx: &Context<'_>, id: ID, body: String) -> async_graphql::Result<Comment> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Comment")?;
        Ok(Comment(in_txn!(ctx, |txn| comments::edit(&txn, actor, id, &body))))
    }

    /// Deletes your comment.
    async fn delete_comment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Comment")?;
        in_txn!(ctx, |txn| comments::delete(&txn, actor, id));
        Ok(true)
    }
}
