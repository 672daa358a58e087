//! Tasks: promises to customers and internal to-dos.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use entity::{
    activity, customer, deal,
    enums::{TaskKind, TaskStatus},
    member, quote, task,
};
use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

use super::{
    activity::Activity,
    connection::connection_cost,
    connection::{
        Conn, OrderDirection, child_connection, page_args, parse_id, parse_opt_id, patch, to_connection, wants_total,
    },
    context::{actor, config, db, writer},
    customer::Customer,
    deal::{Deal, Quote},
    loader::{not_deleted, related},
    org::{Member, in_team, search},
    scalars::Date,
};
use crate::{
    in_txn,
    pagination::{ChildQuery, PageArgs, Sort, SortKind, fetch_page},
    service::access::{self, find_readable},
    service::task as svc,
};

/// Today's date for deadlines (UTC).
fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

/// A promise or an internal to-do (宿題) with a deadline.
pub struct Task(pub task::Model);

#[Object]
impl Task {
    /// Task id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// What must be done.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Details.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Customer promise or internal.
    async fn kind(&self) -> TaskKind {
        self.0.kind
    }
    /// Open, done or cancelled.
    async fn status(&self) -> TaskStatus {
        self.0.status
    }
    /// Deadline.
    async fn due_date(&self) -> Option<Date> {
        self.0.due_date.map(Date)
    }
    /// Open and past its deadline (dates in UTC).
    async fn is_overdue(&self) -> bool {
        self.0.status == TaskStatus::Open && self.0.due_date.is_some_and(|d| d < today())
    }
    /// When it was completed.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// Version to send back with an update.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Who must do it.
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.assignee_id).await.map(Member)
    }
    /// Who created it.
    async fn creator(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.creator_id).await.map(Member)
    }
    /// Linked customer.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Customer>> {
        let Some(id) = self.0.customer_id else { return Ok(None) };
        Ok(Some(Customer(related::<customer::Entity>(ctx, id).await?)))
    }
    /// Linked deal.
    async fn deal(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Deal>> {
        let Some(id) = self.0.deal_id else { return Ok(None) };
        Ok(Some(Deal(related::<deal::Entity>(ctx, id).await?)))
    }
    /// The activity it came from.
    async fn activity(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Activity>> {
        let Some(id) = self.0.activity_id else { return Ok(None) };
        Ok(Some(Activity(related::<activity::Entity>(ctx, id).await?)))
    }
    /// Linked quote.
    async fn quote(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Quote>> {
        let Some(id) = self.0.quote_id else { return Ok(None) };
        Ok(Some(Quote(related::<quote::Entity>(ctx, id).await?)))
    }
}

/// The tasks of a parent (customer, deal, activity, quote) by due date, batched across parents.
pub async fn tasks_of(
    ctx: &Context<'_>,
    parent_col: task::Column,
    parent: Uuid,
    status: Option<TaskStatus>,
    args: PageArgs,
) -> async_graphql::Result<Conn<Task>> {
    let mut filter = not_deleted(task::Column::DeletedAt);
    if let Some(s) = status {
        filter = filter.add(task::Column::Status.eq(s));
    }
    let query = ChildQuery::<task::Entity> {
        parent_col,
        filter,
        sort: Sort::nullable(task::Column::DueDate, SortKind::Date, false),
    };
    let ident = format!("tasks.{parent_col:?}.{status:?}");
    child_connection(ctx, ident, parent, query, args, Task).await
}

/// Filter of the task list; all conditions must hold.
#[derive(InputObject, Default)]
pub struct TaskFilter {
    /// Assigned to this member.
    pub assignee_id: Option<ID>,
    /// Created by this member.
    pub creator_id: Option<ID>,
    /// Assigned to a member of this team or a team below it.
    pub team_id: Option<ID>,
    /// With this status.
    pub status: Option<TaskStatus>,
    /// Of this kind.
    pub kind: Option<TaskKind>,
    /// Open and past the deadline (true), or not (false).
    pub overdue: Option<bool>,
    /// Due on or after this day.
    pub due_from: Option<Date>,
    /// Due on or before this day.
    pub due_to: Option<Date>,
    /// Linked to this customer.
    pub customer_id: Option<ID>,
    /// Linked to this deal.
    pub deal_id: Option<ID>,
    /// Title contains this text (case-insensitive).
    pub search: Option<String>,
}

/// What to sort tasks by.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum TaskOrderField {
    /// Deadline (undated last).
    #[default]
    DueDate,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
}

/// Sort order of the task list.
#[derive(InputObject, Default)]
pub struct TaskOrder {
    /// Sort key.
    pub field: TaskOrderField,
    /// Direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Task queries. Every task of the organisation is visible to its members.
#[derive(Default)]
pub struct TaskQuery;

#[Object]
impl TaskQuery {
    /// A task by id.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Task> {
        let actor = actor(ctx)?;
        Ok(Task(
            find_readable::<task::Entity>(db(ctx)?, actor, parse_id(&id, "Task")?, Some(task::Column::DeletedAt))
                .await?,
        ))
    }

    /// The organisation's tasks (default: by deadline).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        filter: Option<TaskFilter>,
        order_by: Option<TaskOrder>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Task>> {
        let actor = actor(ctx)?;
        let db = db(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let q = task_select(db, actor, filter.unwrap_or_default()).await?;
        let order = order_by.unwrap_or_default();
        let desc = order.direction.desc();
        let sort = match order.field {
            TaskOrderField::DueDate => Sort::nullable(task::Column::DueDate, SortKind::Date, desc),
            TaskOrderField::CreatedAt => Sort::new(task::Column::CreatedAt, SortKind::Time, desc),
            TaskOrderField::UpdatedAt => Sort::new(task::Column::UpdatedAt, SortKind::Time, desc),
        };
        let page = fetch_page(db, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Task))
    }
}

/// Input of `createTask`.
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// What must be done.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// Kind (default: CUSTOMER_PROMISE when linked to a customer, else INTERNAL).
    pub kind: Option<TaskKind>,
    /// Who must do it (default: you).
    pub assignee_id: Option<ID>,
    /// Deadline.
    pub due_date: Option<Date>,
    /// Customer.
    pub customer_id: Option<ID>,
    /// Deal (gives the customer).
    pub deal_id: Option<ID>,
    /// Activity it came from (gives customer and deal).
    pub activity_id: Option<ID>,
    /// Quote (gives the deal).
    pub quote_id: Option<ID>,
}

/// Input of `updateTask`: omitted fields stay, `null` clears.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    /// The task.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// Title.
    pub title: Option<String>,
    /// Details.
    pub description: MaybeUndefined<String>,
    /// Kind.
    pub kind: Option<TaskKind>,
    /// Deadline.
    pub due_date: MaybeUndefined<Date>,
}

/// Task mutations.
#[derive(Default)]
pub struct TaskMutation;

#[Object]
impl TaskMutation {
    /// Creates a task, from scratch or from an activity, deal or quote.
    async fn create_task(&self, ctx: &Context<'_>, input: CreateTaskInput) -> async_graphql::Result<Task> {
        let actor = writer(ctx)?;
        let f = svc::NewTask {
            title: input.title,
            description: input.description,
            kind: input.kind,
            assignee_id: parse_opt_id(input.assignee_id.as_ref(), "Member")?,
            due_date: input.due_date.map(|d| d.0),
            customer_id: parse_opt_id(input.customer_id.as_ref(), "Customer")?,
            deal_id: parse_opt_id(input.deal_id.as_ref(), "Deal")?,
            activity_id: parse_opt_id(input.activity_id.as_ref(), "Activity")?,
            quote_id: parse_opt_id(input.quote_id.as_ref(), "Quote")?,
        };
        Ok(Task(in_txn!(ctx, |txn| svc::create(&txn, actor, f.clone()))))
    }

    /// Changes a task's title, description, kind or deadline.
    async fn update_task(&self, ctx: &Context<'_>, input: UpdateTaskInput) -> async_graphql::Result<Task> {
        let actor = writer(ctx)?;
        let id = parse_id(&input.id, "Task")?;
        let p = svc::TaskPatch {
            title: input.title,
            description: patch(input.description, Ok)?,
            kind: input.kind,
            due_date: patch(input.due_date, |d| Ok(d.0))?,
        };
        Ok(Task(in_txn!(ctx, |txn| svc::update(
            &txn,
            actor,
            id,
            input.version,
            p.clone()
        ))))
    }

    /// Marks a task done.
    async fn complete_task(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Task> {
        self.set_status(ctx, id, version, TaskStatus::Done).await
    }

    /// Reopens a done or cancelled task.
    async fn reopen_task(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Task> {
        self.set_status(ctx, id, version, TaskStatus::Open).await
    }

    /// Drops a task without doing it.
    async fn cancel_task(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Task> {
        self.set_status(ctx, id, version, TaskStatus::Cancelled).await
    }

    /// Gives a task to another member.
    async fn reassign_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        assignee_id: ID,
    ) -> async_graphql::Result<Task> {
        let actor = writer(ctx)?;
        let (id, assignee) = (parse_id(&id, "Task")?, parse_id(&assignee_id, "Member")?);
        Ok(Task(in_txn!(ctx, |txn| svc::reassign(
            &txn, actor, id, version, assignee
        ))))
    }

    /// Soft-deletes a task.
    async fn delete_task(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Task> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Task")?;
        Ok(Task(in_txn!(ctx, |txn| svc::delete(&txn, actor, id, version))))
    }
}

impl TaskMutation {
    async fn set_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        status: TaskStatus,
    ) -> async_graphql::Result<Task> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Task")?;
        Ok(Task(in_txn!(ctx, |txn| svc::set_status(
            &txn, actor, id, version, status
        ))))
    }
}

/// The tasks a list or an export shows: the caller's readable ones, not
/// deleted, narrowed by `f`.
pub async fn task_select(
    db: &sea_orm::DatabaseConnection,
    actor: &crate::service::Actor,
    f: TaskFilter,
) -> async_graphql::Result<sea_orm::Select<task::Entity>> {
    let mut q = access::select::<task::Entity>(actor).filter(task::Column::DeletedAt.is_null());
    if let Some(m) = parse_opt_id(f.assignee_id.as_ref(), "Member")? {
        q = q.filter(task::Column::AssigneeId.eq(m));
    }
    if let Some(m) = parse_opt_id(f.creator_id.as_ref(), "Member")? {
        q = q.filter(task::Column::CreatorId.eq(m));
    }
    if let Some(team) = &f.team_id {
        q = q.filter(in_team(db, actor, team, task::Column::AssigneeId).await?);
    }
    if let Some(s) = f.status {
        q = q.filter(task::Column::Status.eq(s));
    }
    if let Some(k) = f.kind {
        q = q.filter(task::Column::Kind.eq(k));
    }
    match f.overdue {
        Some(true) => {
            q = q
                .filter(task::Column::Status.eq(TaskStatus::Open))
                .filter(task::Column::DueDate.lt(today()));
        }
        Some(false) => {
            let overdue = sea_orm::Condition::all()
                .add(task::Column::Status.eq(TaskStatus::Open))
                .add(task::Column::DueDate.lt(today()));
            q = q.filter(overdue.not());
        }
        None => {}
    }
    if let Some(d) = f.due_from {
        q = q.filter(task::Column::DueDate.gte(d));
    }
    if let Some(d) = f.due_to {
        q = q.filter(task::Column::DueDate.lte(d));
    }
    if let Some(c) = parse_opt_id(f.customer_id.as_ref(), "Customer")? {
        q = q.filter(task::Column::CustomerId.eq(c));
    }
    if let Some(d) = parse_opt_id(f.deal_id.as_ref(), "Deal")? {
        q = q.filter(task::Column::DealId.eq(d));
    }
    if let Some(text) = &f.search {
        q = q.filter(search(&[Expr::col(task::Column::Title)], text)?);
    }
    Ok(q)
}
