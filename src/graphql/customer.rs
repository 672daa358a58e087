//! Customers, customer groups, contacts and touchpoints.

use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use entity::{
    contact, customer, customer_group,
    enums::{ActivityKind, ActivityStatus, CommentSubject, CustomerStatus, DealStatus, TaskStatus},
    sales_record, touchpoint,
};
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder, Select, sea_query::Expr};

use super::{
    activity::{Activity, activities_of},
    connection::connection_cost,
    connection::{
        Conn, OrderDirection, child_connection, page_args, parse_id, parse_opt_id, patch, to_connection, wants_total,
    },
    context::{actor, config, db, loader, writer},
    deal::{Deal, deals_of},
    loader::{ListOf, ListRelation, not_deleted, ordered, related},
    misc::{Comment, SalesRecord, comments_of},
    org::{Member, in_team, search},
    task::{Task, tasks_of},
};
use crate::{
    error::AppError,
    in_txn,
    pagination::{ChildQuery, Sort, SortKind, fetch_page},
    service::access::{self, find_readable},
    service::{self, customer as svc},
};

/// A customer segment (顧客群).
pub struct CustomerGroup(pub customer_group::Model);

#[Object]
impl CustomerGroup {
    /// Group id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What the group is for.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
}

/// A client company (顧客).
pub struct Customer(pub customer::Model);

/// The live contacts of a customer.
pub struct CustomerContacts;
impl ListRelation for CustomerContacts {
    type Child = contact::Entity;
    fn parent_col() -> contact::Column {
        contact::Column::CustomerId
    }
    fn company_col() -> contact::Column {
        contact::Column::CompanyId
    }
    fn shape(select: Select<contact::Entity>) -> Select<contact::Entity> {
        ordered(
            select.filter(not_deleted(contact::Column::DeletedAt)),
            contact::Column::Name,
        )
    }
}

#[Object]
impl Customer {
    /// Customer id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Company name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Reading of the name.
    async fn name_kana(&self) -> Option<&str> {
        self.0.name_kana.as_deref()
    }
    /// Code in the sales-management master.
    async fn external_code(&self) -> Option<&str> {
        self.0.external_code.as_deref()
    }
    /// A key account (重点顧客).
    async fn is_priority(&self) -> bool {
        self.0.is_priority
    }
    /// Prospect, active or dormant.
    async fn status(&self) -> CustomerStatus {
        self.0.status
    }
    /// Industry.
    async fn industry(&self) -> Option<&str> {
        self.0.industry.as_deref()
    }
    /// Postal address.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// Main phone number.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// Web site.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }
    /// Company-defined extra fields.
    async fn custom_fields(&self) -> Json<serde_json::Value> {
        Json(self.0.custom_fields.clone())
    }
    /// Time of the latest done activity (最終接触日); null if never contacted.
    async fn last_contact_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_contact_at
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
    /// The member in charge.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<entity::member::Entity>(ctx, self.0.owner_id)
            .await
            .map(Member)
    }
    /// The customer's segment.
    async fn group(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CustomerGroup>> {
        let Some(id) = self.0.group_id else { return Ok(None) };
        Ok(Some(CustomerGroup(related::<customer_group::Entity>(ctx, id).await?)))
    }
    /// People at the customer, by name.
    async fn contacts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Contact>> {
        let rows = loader(ctx)?
            .load_one(ListOf::<CustomerContacts>::new(self.0.id))
            .await?;
        Ok(rows
            .map(|r| r.iter().cloned().map(Contact).collect())
            .unwrap_or_default())
    }
    /// Deals with this customer, newest first.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn deals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deals with this status.")] status: Option<DealStatus>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Deal>> {
        deals_of(
            ctx,
            entity::deal::Column::CustomerId,
            self.0.id,
            status,
            page_args(after, before, first, last),
        )
        .await
    }
    /// Activities with this customer, latest first (the full history).
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
        activities_of(ctx, entity::activity::Column::CustomerId, self.0.id, status, kind, args).await
    }
    /// Tasks linked to this customer, by due date.
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
            entity::task::Column::CustomerId,
            self.0.id,
            status,
            page_args(after, before, first, last),
        )
        .await
    }
    /// Comments on this customer, oldest first.
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
            CommentSubject::Customer,
            self.0.id,
            page_args(after, before, first, last),
        )
        .await
    }
    /// Marketing touchpoints (web views, seminars…), latest first.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn touchpoints(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Touchpoint>> {
        let query = ChildQuery::<touchpoint::Entity> {
            parent_col: touchpoint::Column::CustomerId,
            filter: Condition::all(),
            sort: Sort::new(touchpoint::Column::OccurredAt, SortKind::Time, true),
        };
        let args = page_args(after, before, first, last);
        child_connection(ctx, "customer.touchpoints".into(), self.0.id, query, args, Touchpoint).await
    }
    /// Sales booked for this customer, latest first.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn sales_records(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<SalesRecord>> {
        let query = ChildQuery::<sales_record::Entity> {
            parent_col: sales_record::Column::CustomerId,
            filter: Condition::all(),
            sort: Sort::new(sales_record::Column::SoldOn, SortKind::Date, true),
        };
        let args = page_args(after, before, first, last);
        child_connection(ctx, "customer.salesRecords".into(), self.0.id, query, args, SalesRecord).await
    }
}

/// A person at a customer.
pub struct Contact(pub contact::Model);

#[Object]
impl Contact {
    /// Contact id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Full name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Reading of the name.
    async fn name_kana(&self) -> Option<&str> {
        self.0.name_kana.as_deref()
    }
    /// Department.
    async fn department(&self) -> Option<&str> {
        self.0.department.as_deref()
    }
    /// Job title.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// Contact level key (staff, manager, executive… as the company defines them).
    async fn level(&self) -> &str {
        &self.0.level
    }
    /// E-mail.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Phone.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// Version to send back with an update.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The customer the contact works for.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        related::<customer::Entity>(ctx, self.0.customer_id).await.map(Customer)
    }
}

/// A marketing touchpoint imported from another system.
pub struct Touchpoint(pub touchpoint::Model);

#[Object]
impl Touchpoint {
    /// Touchpoint id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Kind key (web_view, seminar, email_open…).
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    /// Source-specific details.
    async fn details(&self) -> Json<serde_json::Value> {
        Json(self.0.details.clone())
    }
    /// System it came from.
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    /// The contact, when known.
    async fn contact(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Contact>> {
        let Some(id) = self.0.contact_id else { return Ok(None) };
        Ok(Some(Contact(related::<contact::Entity>(ctx, id).await?)))
    }
}

/// Filter of the customer list; all conditions must hold.
#[derive(InputObject, Default)]
pub struct CustomerFilter {
    /// Owned by this member.
    pub owner_id: Option<ID>,
    /// Owned by a member of this team or a team below it.
    pub team_id: Option<ID>,
    /// In this customer group.
    pub group_id: Option<ID>,
    /// With this status.
    pub status: Option<CustomerStatus>,
    /// Key accounts only (true) or others only (false).
    pub is_priority: Option<bool>,
    /// Name, reading or external code contains this text (case-insensitive).
    pub search: Option<String>,
    /// Not contacted since this time (never-contacted customers included).
    pub last_contact_before: Option<DateTime<Utc>>,
    /// Contacted at or after this time.
    pub last_contact_after: Option<DateTime<Utc>>,
}

/// What to sort customers by.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum CustomerOrderField {
    /// Company name.
    #[default]
    Name,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Last contact (never-contacted customers last).
    LastContactAt,
}

/// Sort order of the customer list.
#[derive(InputObject, Default)]
pub struct CustomerOrder {
    /// Sort key.
    pub field: CustomerOrderField,
    /// Direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Customer queries.
#[derive(Default)]
pub struct CustomerQuery;

#[Object]
impl CustomerQuery {
    /// A customer by id.
    async fn customer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Customer> {
        let id = parse_id(&id, "Customer")?;
        let row = super::loader::readable::<customer::Entity>(ctx, id, customer::Column::DeletedAt, |c| {
            c.deleted_at.is_some()
        });
        Ok(Customer(row.await?))
    }

    /// The company's customers.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        filter: Option<CustomerFilter>,
        order_by: Option<CustomerOrder>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Customer>> {
        let actor = actor(ctx)?;
        let db = db(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let q = customer_select(db, actor, filter.unwrap_or_default()).await?;
        let order = order_by.unwrap_or_default();
        let desc = order.direction.desc();
        let sort = match order.field {
            CustomerOrderField::Name => Sort::new(customer::Column::Name, SortKind::Text, desc),
            CustomerOrderField::CreatedAt => Sort::new(customer::Column::CreatedAt, SortKind::Time, desc),
            CustomerOrderField::UpdatedAt => Sort::new(customer::Column::UpdatedAt, SortKind::Time, desc),
            CustomerOrderField::LastContactAt => Sort::nullable(customer::Column::LastContactAt, SortKind::Time, desc),
        };
        let page = fetch_page(db, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Customer))
    }

    /// Every customer group of the company, by name.
    async fn customer_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CustomerGroup>> {
        let actor = actor(ctx)?;
        let rows = access::select::<customer_group::Entity>(actor)
            .filter(customer_group::Column::DeletedAt.is_null())
            .order_by_asc(customer_group::Column::Name)
            .all(db(ctx)?)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(CustomerGroup).collect())
    }

    /// A contact by id.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Contact> {
        let actor = actor(ctx)?;
        Ok(Contact(
            find_readable::<contact::Entity>(
                db(ctx)?,
                actor,
                parse_id(&id, "Contact")?,
                Some(contact::Column::DeletedAt),
            )
            .await?,
        ))
    }

    /// Contacts across customers, by name.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Contacts of this customer only.")] customer_id: Option<ID>,
        #[graphql(desc = "Only this contact level.")] level: Option<String>,
        #[graphql(desc = "Name, reading, department or e-mail contains this text.")] search: Option<String>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Contact>> {
        let actor = actor(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let mut q = access::select::<contact::Entity>(actor).filter(contact::Column::DeletedAt.is_null());
        if let Some(c) = parse_opt_id(customer_id.as_ref(), "Customer")? {
            q = q.filter(contact::Column::CustomerId.eq(c));
        }
        if let Some(level) = level {
            q = q.filter(contact::Column::Level.eq(level));
        }
        if let Some(text) = &search {
            let cols = [
                contact::Column::Name,
                contact::Column::NameKana,
                contact::Column::Department,
                contact::Column::Email,
            ];
            q = q.filter(self::search_cols(&cols, text)?);
        }
        let sort = Sort::new(contact::Column::Name, SortKind::Text, false);
        let page = fetch_page(db(ctx)?, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Contact))
    }
}

fn search_cols<C: ColumnTrait>(cols: &[C], text: &str) -> crate::error::AppResult<Condition> {
    search(&cols.iter().map(|c| Expr::col(*c)).collect::<Vec<_>>(), text)
}

/// Input of `createCustomer`.
#[derive(InputObject)]
pub struct CreateCustomerInput {
    /// Company name.
    pub name: String,
    /// Reading of the name.
    pub name_kana: Option<String>,
    /// Member in charge (default: you).
    pub owner_id: Option<ID>,
    /// Customer group.
    pub group_id: Option<ID>,
    /// Code in the sales-management master (unique in the company).
    pub external_code: Option<String>,
    /// Key account.
    #[graphql(default)]
    pub is_priority: bool,
    /// Status (default PROSPECT).
    pub status: Option<CustomerStatus>,
    /// Industry.
    pub industry: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Main phone number.
    pub phone: Option<String>,
    /// Web site.
    pub website: Option<String>,
    /// Company-defined extra fields (a JSON object).
    pub custom_fields: Option<Json<serde_json::Value>>,
}

/// Input of `updateCustomer`: omitted fields stay as they are, `null` clears.
#[derive(InputObject)]
pub struct UpdateCustomerInput {
    /// The customer.
    pub id: ID,
    /// The version you read; a stale one gets CONFLICT.
    pub version: i32,
    /// Company name.
    pub name: Option<String>,
    /// Reading of the name.
    pub name_kana: MaybeUndefined<String>,
    /// New member in charge (handover: the history stays with the customer).
    pub owner_id: Option<ID>,
    /// Customer group.
    pub group_id: MaybeUndefined<ID>,
    /// Code in the sales-management master.
    pub external_code: MaybeUndefined<String>,
    /// Key account.
    pub is_priority: Option<bool>,
    /// Status.
    pub status: Option<CustomerStatus>,
    /// Industry.
    pub industry: MaybeUndefined<String>,
    /// Postal address.
    pub address: MaybeUndefined<String>,
    /// Main phone number.
    pub phone: MaybeUndefined<String>,
    /// Web site.
    pub website: MaybeUndefined<String>,
    /// Company-defined extra fields, replaced as a whole.
    pub custom_fields: Option<Json<serde_json::Value>>,
}

/// Fields of a contact; on update omitted fields stay, `null` clears.
#[derive(InputObject)]
pub struct ContactInput {
    /// Full name (required on create).
    pub name: Option<String>,
    /// Reading of the name.
    pub name_kana: MaybeUndefined<String>,
    /// Department.
    pub department: MaybeUndefined<String>,
    /// Job title.
    pub title: MaybeUndefined<String>,
    /// Contact level key (default `staff`).
    pub level: Option<String>,
    /// E-mail.
    pub email: MaybeUndefined<String>,
    /// Phone.
    pub phone: MaybeUndefined<String>,
}

impl ContactInput {
    fn into_fields(self) -> svc::ContactFields {
        let keep = |v| patch(v, Ok).unwrap_or_default();
        svc::ContactFields {
            name: self.name,
            name_kana: keep(self.name_kana),
            department: keep(self.department),
            title: keep(self.title),
            level: self.level,
            email: keep(self.email),
            phone: keep(self.phone),
        }
    }
}

/// Input of `recordTouchpoint`.
#[derive(InputObject)]
pub struct TouchpointInput {
    /// Customer.
    pub customer_id: ID,
    /// Contact, when known.
    pub contact_id: Option<ID>,
    /// Kind key (web_view, seminar, email_open…).
    pub kind: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Source-specific details (a JSON object).
    pub details: Option<Json<serde_json::Value>>,
    /// System it came from.
    pub source: Option<String>,
}

/// Customer mutations.
#[derive(Default)]
pub struct CustomerMutation;

#[Object]
impl CustomerMutation {
    /// Creates a customer.
    async fn create_customer(&self, ctx: &Context<'_>, input: CreateCustomerInput) -> async_graphql::Result<Customer> {
        let actor = writer(ctx)?;
        let f = svc::NewCustomer {
            name: input.name,
            name_kana: input.name_kana,
            owner_id: parse_opt_id(input.owner_id.as_ref(), "Member")?,
            group_id: parse_opt_id(input.group_id.as_ref(), "Customer group")?,
            external_code: input.external_code,
            is_priority: input.is_priority,
            status: input.status,
            industry: input.industry,
            address: input.address,
            phone: input.phone,
            website: input.website,
            custom_fields: input.custom_fields.map(|j| j.0),
        };
        Ok(Customer(in_txn!(ctx, |txn| svc::create(&txn, actor, f.clone()))))
    }

    /// Changes a customer (send the version you read).
    async fn update_customer(&self, ctx: &Context<'_>, input: UpdateCustomerInput) -> async_graphql::Result<Customer> {
        let actor = writer(ctx)?;
        let id = parse_id(&input.id, "Customer")?;
        let keep = |v| patch(v, Ok).unwrap_or_default();
        let p = svc::CustomerPatch {
            name: input.name,
            name_kana: keep(input.name_kana),
            owner_id: parse_opt_id(input.owner_id.as_ref(), "Member")?,
            group_id: patch(input.group_id, |id| parse_id(&id, "Customer group"))?,
            external_code: keep(input.external_code),
            is_priority: input.is_priority,
            status: input.status,
            industry: keep(input.industry),
            address: keep(input.address),
            phone: keep(input.phone),
            website: keep(input.website),
            custom_fields: input.custom_fields.map(|j| j.0),
        };
        Ok(Customer(in_txn!(ctx, |txn| svc::update(
            &txn,
            actor,
            id,
            input.version,
            p.clone()
        ))))
    }

    /// Soft-deletes a customer; its history is kept.
    async fn delete_customer(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Customer> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Customer")?;
        Ok(Customer(in_txn!(ctx, |txn| svc::delete(&txn, actor, id, version))))
    }

    /// Creates a customer group.
    async fn create_customer_group(
        &self,
        ctx: &Context<'_>,
        name: String,
        description: Option<String>,
    ) -> async_graphql::Result<CustomerGroup> {
        let actor = writer(ctx)?;
        let f = service::catalog::GroupFields { name, description };
        Ok(CustomerGroup(in_txn!(ctx, |txn| service::catalog::create_group(
            &txn,
            actor,
            f.clone()
        ))))
    }

    /// Renames or re-describes a customer group.
    async fn update_customer_group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: String,
        description: Option<String>,
    ) -> async_graphql::Result<CustomerGroup> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Customer group")?;
        let f = service::catalog::GroupFields { name, description };
        Ok(CustomerGroup(in_txn!(ctx, |txn| service::catalog::update_group(
            &txn,
            actor,
            id,
            f.clone()
        ))))
    }

    /// Deletes a customer group; its customers stay, without a group.
    async fn delete_customer_group(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Customer group")?;
        in_txn!(ctx, |txn| service::catalog::delete_group(&txn, actor, id));
        Ok(true)
    }

    /// Adds a contact to a customer.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        input: ContactInput,
    ) -> async_graphql::Result<Contact> {
        let actor = writer(ctx)?;
        let customer_id = parse_id(&customer_id, "Customer")?;
        let f = input.into_fields();
        Ok(Contact(in_txn!(ctx, |txn| svc::create_contact(
            &txn,
            actor,
            customer_id,
            f.clone()
        ))))
    }

    /// Changes a contact (send the version you read).
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: ContactInput,
    ) -> async_graphql::Result<Contact> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Contact")?;
        let f = input.into_fields();
        Ok(Contact(in_txn!(ctx, |txn| svc::update_contact(
            &txn,
            actor,
            id,
            version,
            f.clone()
        ))))
    }

    /// Soft-deletes a contact.
    async fn delete_contact(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Contact> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Contact")?;
        Ok(Contact(in_txn!(ctx, |txn| svc::delete_contact(
            &txn, actor, id, version
        ))))
    }

    /// Records a marketing touchpoint (web view, seminar attendance…) in the customer's history.
    async fn record_touchpoint(&self, ctx: &Context<'_>, input: TouchpointInput) -> async_graphql::Result<Touchpoint> {
        let actor = writer(ctx)?;
        let f = svc::NewTouchpoint {
            customer_id: parse_id(&input.customer_id, "Customer")?,
            contact_id: parse_opt_id(input.contact_id.as_ref(), "Contact")?,
            kind: input.kind,
            occurred_at: input.occurred_at,
            details: input.details.map(|j| j.0),
            source: input.source,
        };
        Ok(Touchpoint(in_txn!(ctx, |txn| svc::record_touchpoint(
            &txn,
            actor,
            f.clone()
        ))))
    }
}

/// The customers a list or an export shows: the caller's readable ones, not
/// deleted, narrowed by `f`.
pub async fn customer_select(
    db: &sea_orm::DatabaseConnection,
    actor: &crate::service::Actor,
    f: CustomerFilter,
) -> async_graphql::Result<sea_orm::Select<customer::Entity>> {
    let mut q = access::select::<customer::Entity>(actor).filter(customer::Column::DeletedAt.is_null());
    if let Some(owner) = parse_opt_id(f.owner_id.as_ref(), "Member")? {
        q = q.filter(customer::Column::OwnerId.eq(owner));
    }
    if let Some(team) = &f.team_id {
        q = q.filter(in_team(db, actor, team, customer::Column::OwnerId).await?);
    }
    if let Some(group) = parse_opt_id(f.group_id.as_ref(), "Customer group")? {
        q = q.filter(customer::Column::GroupId.eq(group));
    }
    if let Some(status) = f.status {
        q = q.filter(customer::Column::Status.eq(status));
    }
    if let Some(p) = f.is_priority {
        q = q.filter(customer::Column::IsPriority.eq(p));
    }
    if let Some(text) = &f.search {
        let cols = [
            customer::Column::Name,
            customer::Column::NameKana,
            customer::Column::ExternalCode,
        ];
        q = q.filter(search(&cols.map(Expr::col), text)?);
    }
    if let Some(t) = f.last_contact_before {
        q = q.filter(
            Condition::any()
                .add(customer::Column::LastContactAt.is_null())
                .add(customer::Column::LastContactAt.lt(t)),
        );
    }
    if let Some(t) = f.last_contact_after {
        q = q.filter(customer::Column::LastContactAt.gte(t));
    }
    Ok(q)
}
