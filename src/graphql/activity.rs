//! Activities and daily reports.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use entity::{
    activity, activity_contact, activity_product, activity_reaction, contact, customer, daily_report, deal,
    enums::{ActivityKind, ActivityStatus, CommentSubject, TaskStatus},
    member, product,
};
use sea_orm::{ColumnTrait, QueryFilter, Select, sea_query::Expr};
use uuid::Uuid;

use super::{
    connection::connection_cost,
    connection::{
        Conn, OrderDirection, child_connection, page_args, parse_id, parse_opt_id, patch, to_connection, wants_total,
    },
    context::{actor, config, db, loader, writer},
    customer::{Contact, Customer},
    deal::Deal,
    loader::{ById, ListOf, ListRelation, not_deleted, ordered, related},
    misc::{Comment, Product, comments_of},
    org::{Member, in_team, search},
    scalars::Date,
    task::{Task, tasks_of},
};
use crate::{
    error::AppError,
    in_txn,
    pagination::{ChildQuery, PageArgs, Sort, SortKind, fetch_page},
    service::access::{self, find_readable},
    service::activity as svc,
};

/// A sales activity: a visit, call, e-mail, web meeting or seminar.
pub struct Activity(pub activity::Model);

macro_rules! join_list {
    ($name:ident, $entity:ident) => {
        #[doc = concat!("Rows of `", stringify!($entity), "` of an activity.")]
        pub struct $name;
        impl ListRelation for $name {
            type Child = $entity::Entity;
            fn parent_col() -> $entity::Column {
                $entity::Column::ActivityId
            }
            fn company_col() -> $entity::Column {
                $entity::Column::CompanyId
            }
            fn shape(select: Select<$entity::Entity>) -> Select<$entity::Entity> {
                select
            }
        }
    };
}
join_list!(ActivityContacts, activity_contact);
join_list!(ActivityProducts, activity_product);
join_list!(ActivityReactions, activity_reaction);

/// The activities recorded in a daily report.
pub struct ReportActivities;
impl ListRelation for ReportActivities {
    type Child = activity::Entity;
    fn parent_col() -> activity::Column {
        activity::Column::DailyReportId
    }
    fn company_col() -> activity::Column {
        activity::Column::CompanyId
    }
    fn shape(select: Select<activity::Entity>) -> Select<activity::Entity> {
        ordered(
            select.filter(not_deleted(activity::Column::DeletedAt)),
            activity::Column::ScheduledAt,
        )
    }
}

#[Object]
impl Activity {
    /// Activity id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Visit, call, e-mail, web meeting, seminar or other.
    async fn kind(&self) -> ActivityKind {
        self.0.kind
    }
    /// Planned, done or cancelled.
    async fn status(&self) -> ActivityStatus {
        self.0.status
    }
    /// Short title.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// When it is (or was) planned.
    async fn scheduled_at(&self) -> DateTime<Utc> {
        self.0.scheduled_at
    }
    /// When it happened.
    async fn done_at(&self) -> Option<DateTime<Utc>> {
        self.0.done_at
    }
    /// Minutes.
    async fn duration_minutes(&self) -> Option<i32> {
        self.0.duration_minutes
    }
    /// Customer-side attendees.
    async fn attendee_count(&self) -> i32 {
        self.0.attendee_count
    }
    /// What was discussed.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// Result recorded when completing it.
    async fn outcome(&self) -> Option<&str> {
        self.0.outcome.as_deref()
    }
    /// Engagement points given by the company's scoring plugin (null until scored).
    async fn energy_points(&self) -> Option<i32> {
        self.0.energy_points
    }
    /// Scoring version that computed `energyPoints`.
    async fn energy_version(&self) -> Option<&str> {
        self.0.energy_version.as_deref()
    }
    /// Version to send back with an update.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Who does it.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.member_id).await.map(Member)
    }
    /// With which customer.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Customer> {
        related::<customer::Entity>(ctx, self.0.customer_id).await.map(Customer)
    }
    /// On which deal.
    async fn deal(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Deal>> {
        let Some(id) = self.0.deal_id else { return Ok(None) };
        Ok(Some(Deal(related::<deal::Entity>(ctx, id).await?)))
    }
    /// The daily report that recorded it.
    async fn daily_report(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DailyReport>> {
        let Some(id) = self.0.daily_report_id else {
            return Ok(None);
        };
        Ok(Some(DailyReport(related::<daily_report::Entity>(ctx, id).await?)))
    }
    /// Contacts met.
    async fn contacts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Contact>> {
        let loader = loader(ctx)?;
        let links = loader
            .load_one(ListOf::<ActivityContacts>::new(self.0.id))
            .await?
            .unwrap_or_default();
        let ids: Vec<_> = links
            .iter()
            .map(|l| ById::<contact::Entity>::new(l.contact_id))
            .collect();
        let found = loader.load_many(ids.clone()).await?;
        Ok(ids.iter().filter_map(|k| found.get(k).cloned().map(Contact)).collect())
    }
    /// Products introduced (one-click flags).
    async fn products(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Product>> {
        let loader = loader(ctx)?;
        let links = loader
            .load_one(ListOf::<ActivityProducts>::new(self.0.id))
            .await?
            .unwrap_or_default();
        let ids: Vec<_> = links
            .iter()
            .map(|l| ById::<product::Entity>::new(l.product_id))
            .collect();
        let found = loader.load_many(ids.clone()).await?;
        Ok(ids.iter().filter_map(|k| found.get(k).cloned().map(Product)).collect())
    }
    /// Customer reaction keys observed (the company's plugin defines them).
    async fn reactions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        let rows = loader(ctx)?
            .load_one(ListOf::<ActivityReactions>::new(self.0.id))
            .await?
            .unwrap_or_default();
        let mut keys: Vec<String> = rows.iter().map(|r| r.reaction.clone()).collect();
        keys.sort();
        Ok(keys)
    }
    /// Tasks that came out of this activity.
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
            entity::task::Column::ActivityId,
            self.0.id,
            status,
            page_args(after, before, first, last),
        )
        .await
    }
    /// Comments on the activity, oldest first.
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
            CommentSubject::Activity,
            self.0.id,
            page_args(after, before, first, last),
        )
        .await
    }
}

/// The activities of a parent (customer, deal…), latest first, batched across parents.
pub async fn activities_of(
    ctx: &Context<'_>,
    parent_col: activity::Column,
    parent: Uuid,
    status: Option<ActivityStatus>,
    kind: Option<ActivityKind>,
    args: PageArgs,
) -> async_graphql::Result<Conn<Activity>> {
    let mut filter = not_deleted(activity::Column::DeletedAt);
    if let Some(s) = status {
        filter = filter.add(activity::Column::Status.eq(s));
    }
    if let Some(k) = kind {
        filter = filter.add(activity::Column::Kind.eq(k));
    }
    let query = ChildQuery::<activity::Entity> {
        parent_col,
        filter,
        sort: Sort::new(activity::Column::ScheduledAt, SortKind::Time, true),
    };
    let ident = format!("activities.{parent_col:?}.{status:?}.{kind:?}");
    child_connection(ctx, ident, parent, query, args, Activity).await
}

/// One member's report for one day (日報).
pub struct DailyReport(pub daily_report::Model);

#[Object]
impl DailyReport {
    /// Report id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// The day reported on.
    async fn report_date(&self) -> Date {
        Date(self.0.report_date)
    }
    /// Free text.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// When it was submitted; null while a draft.
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.0.submitted_at
    }
    /// Version to send back when changing it.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The author.
    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.member_id).await.map(Member)
    }
    /// The activities recorded in the report, in time order.
    async fn activities(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Activity>> {
        let rows = loader(ctx)?
            .load_one(ListOf::<ReportActivities>::new(self.0.id))
            .await?;
        Ok(rows
            .map(|r| r.iter().cloned().map(Activity).collect())
            .unwrap_or_default())
    }
    /// Comments (advice) on the report, oldest first.
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
            CommentSubject::DailyReport,
            self.0.id,
            page_args(after, before, first, last),
        )
        .await
    }
}

/// Filter of the activity list; all conditions must hold.
#[derive(InputObject, Default)]
pub struct ActivityFilter {
    /// Done or planned by this member.
    pub member_id: Option<ID>,
    /// By a member of this team or a team below it.
    pub team_id: Option<ID>,
    /// With this customer.
    pub customer_id: Option<ID>,
    /// On this deal.
    pub deal_id: Option<ID>,
    /// Of these kinds.
    pub kinds: Option<Vec<ActivityKind>>,
    /// With this status.
    pub status: Option<ActivityStatus>,
    /// Scheduled at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Scheduled before this time.
    pub to: Option<DateTime<Utc>>,
    /// Subject or notes contain this text (case-insensitive).
    pub search: Option<String>,
}

/// Filter of the daily report list.
#[derive(InputObject, Default)]
pub struct DailyReportFilter {
    /// Written by this member.
    pub member_id: Option<ID>,
    /// Written by a member of this team or a team below it.
    pub team_id: Option<ID>,
    /// On or after this day.
    pub from: Option<Date>,
    /// On or before this day.
    pub to: Option<Date>,
    /// Submitted (true) or drafts (false).
    pub submitted: Option<bool>,
}

/// Activity and daily report queries.
#[derive(Default)]
pub struct ActivityQuery;

#[Object]
impl ActivityQuery {
    /// An activity by id.
    async fn activity(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Activity> {
        let actor = actor(ctx)?;
        Ok(Activity(
            find_readable::<activity::Entity>(
                db(ctx)?,
                actor,
                parse_id(&id, "Activity")?,
                Some(activity::Column::DeletedAt),
            )
            .await?,
        ))
    }

    /// Activities by scheduled time (a calendar of plans and actuals).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
        #[graphql(desc = "Direction of the scheduled-time order (default DESC: latest first).")] direction: Option<
            OrderDirection,
        >,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Activity>> {
        let actor = actor(ctx)?;
        let db = db(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let q = activity_select(db, actor, filter.unwrap_or_default()).await?;
        let desc = direction.unwrap_or(OrderDirection::Desc).desc();
        let sort = Sort::new(activity::Column::ScheduledAt, SortKind::Time, desc);
        let page = fetch_page(db, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Activity))
    }

    /// A daily report by id.
    async fn daily_report(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<DailyReport> {
        let actor = actor(ctx)?;
        Ok(DailyReport(
            find_readable::<daily_report::Entity>(db(ctx)?, actor, parse_id(&id, "Daily report")?, None).await?,
        ))
    }

    /// Daily reports, latest day first.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn daily_reports(
        &self,
        ctx: &Context<'_>,
        filter: Option<DailyReportFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<DailyReport>> {
        let actor = actor(ctx)?;
        let db = db(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let f = filter.unwrap_or_default();
        let mut q = access::select::<daily_report::Entity>(actor);
        if let Some(m) = parse_opt_id(f.member_id.as_ref(), "Member")? {
            q = q.filter(daily_report::Column::MemberId.eq(m));
        }
        if let Some(team) = &f.team_id {
            q = q.filter(in_team(db, actor, team, daily_report::Column::MemberId).await?);
        }
        if let Some(d) = f.from {
            q = q.filter(daily_report::Column::ReportDate.gte(d));
        }
        if let Some(d) = f.to {
            q = q.filter(daily_report::Column::ReportDate.lte(d));
        }
        match f.submitted {
            Some(true) => q = q.filter(daily_report::Column::SubmittedAt.is_not_null()),
            Some(false) => q = q.filter(daily_report::Column::SubmittedAt.is_null()),
            None => {}
        }
        let sort = Sort::new(daily_report::Column::ReportDate, SortKind::Date, true);
        let page = fetch_page(db, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, DailyReport))
    }
}

/// Input of `createActivity` (and of each activity in a daily report).
#[derive(InputObject)]
pub struct ActivityInput {
    /// Customer.
    pub customer_id: ID,
    /// Deal, if any (must be the customer's).
    pub deal_id: Option<ID>,
    /// Kind.
    pub kind: ActivityKind,
    /// PLANNED (a plan) or DONE (an actual); default DONE.
    pub status: Option<ActivityStatus>,
    /// Short title.
    pub subject: String,
    /// When it is (or was) planned.
    pub scheduled_at: DateTime<Utc>,
    /// When it happened (DONE only; default `scheduledAt`).
    pub done_at: Option<DateTime<Utc>>,
    /// Minutes.
    pub duration_minutes: Option<i32>,
    /// Customer-side attendees (default: number of contacts, at least 1).
    pub attendee_count: Option<i32>,
    /// What was discussed.
    pub notes: Option<String>,
    /// Result.
    pub outcome: Option<String>,
    /// Contacts met.
    #[graphql(default)]
    pub contact_ids: Vec<ID>,
    /// Products introduced.
    #[graphql(default)]
    pub product_ids: Vec<ID>,
    /// Customer reaction keys.
    #[graphql(default)]
    pub reactions: Vec<String>,
    /// Who does it (default: you; not allowed inside a daily report).
    pub member_id: Option<ID>,
}

fn ids(list: &[ID], what: &'static str) -> Result<Vec<Uuid>, AppError> {
    list.iter().map(|id| parse_id(id, what)).collect()
}

fn opt_ids(list: Option<&[ID]>, what: &'static str) -> Result<Option<Vec<Uuid>>, AppError> {
    list.map(|l| ids(l, what)).transpose()
}

impl ActivityInput {
    fn into_new(self) -> Result<svc::NewActivity, AppError> {
        Ok(svc::NewActivity {
            member_id: parse_opt_id(self.member_id.as_ref(), "Member")?,
            customer_id: parse_id(&self.customer_id, "Customer")?,
            deal_id: parse_opt_id(self.deal_id.as_ref(), "Deal")?,
            kind: self.kind,
            status: self.status.unwrap_or(ActivityStatus::Done),
            subject: self.subject,
            scheduled_at: self.scheduled_at,
            done_at: self.done_at,
            duration_minutes: self.duration_minutes,
            attendee_count: self.attendee_count,
            notes: self.notes,
            outcome: self.outcome,
            details: svc::Details {
                contact_ids: ids(&self.contact_ids, "Contact")?,
                product_ids: ids(&self.product_ids, "Product")?,
                reactions: self.reactions,
            },
        })
    }
}

/// Input of `updateActivity`: omitted fields stay, `null` clears; lists replace.
#[derive(InputObject)]
pub struct UpdateActivityInput {
    /// The activity.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// Kind.
    pub kind: Option<ActivityKind>,
    /// Title.
    pub subject: Option<String>,
    /// Planned time.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Time it happened (DONE only).
    pub done_at: Option<DateTime<Utc>>,
    /// Deal.
    pub deal_id: MaybeUndefined<ID>,
    /// Minutes.
    pub duration_minutes: MaybeUndefined<i32>,
    /// Attendees.
    pub attendee_count: Option<i32>,
    /// Notes.
    pub notes: MaybeUndefined<String>,
    /// Result.
    pub outcome: MaybeUndefined<String>,
    /// Replaces contacts met.
    pub contact_ids: Option<Vec<ID>>,
    /// Replaces products introduced.
    pub product_ids: Option<Vec<ID>>,
    /// Replaces reactions.
    pub reactions: Option<Vec<String>>,
}

/// Input of `completeActivity` (and of each completion in a daily report).
#[derive(InputObject)]
pub struct CompleteActivityInput {
    /// The planned activity.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// When it happened (default now).
    pub done_at: Option<DateTime<Utc>>,
    /// Result.
    pub outcome: Option<String>,
    /// Notes (replace the plan's notes when given).
    pub notes: Option<String>,
    /// Attendees.
    pub attendee_count: Option<i32>,
    /// Contacts met (replace the planned ones when given).
    pub contact_ids: Option<Vec<ID>>,
    /// Products introduced (replace when given).
    pub product_ids: Option<Vec<ID>>,
    /// Customer reaction keys (replace when given).
    pub reactions: Option<Vec<String>>,
}

impl CompleteActivityInput {
    fn into_parts(self) -> Result<(Uuid, i32, svc::Completion), AppError> {
        Ok((
            parse_id(&self.id, "Activity")?,
            self.version,
            svc::Completion {
                done_at: self.done_at,
                outcome: self.outcome,
                notes: self.notes,
                attendee_count: self.attendee_count,
                contact_ids: opt_ids(self.contact_ids.as_deref(), "Contact")?,
                product_ids: opt_ids(self.product_ids.as_deref(), "Product")?,
                reactions: self.reactions,
            },
        ))
    }
}

/// Input of `submitDailyReport`: the whole day in one call.
#[derive(InputObject)]
pub struct DailyReportInput {
    /// The day reported on.
    pub report_date: Date,
    /// Free text.
    #[graphql(default)]
    pub body: String,
    /// Version of your existing report for that day, when changing it.
    pub version: Option<i32>,
    /// Submit now (default) or keep as a draft.
    #[graphql(default = true)]
    pub submit: bool,
    /// The day's activities (default DONE) to record under the report.
    #[graphql(default)]
    pub activities: Vec<ActivityInput>,
    /// Planned activities completed today.
    #[graphql(default)]
    pub completed: Vec<CompleteActivityInput>,
}

/// Activity and daily report mutations.
#[derive(Default)]
pub struct ActivityMutation;

#[Object]
impl ActivityMutation {
    /// Records a planned or done activity.
    async fn create_activity(&self, ctx: &Context<'_>, input: ActivityInput) -> async_graphql::Result<Activity> {
        let actor = writer(ctx)?;
        let f = input.into_new()?;
        Ok(Activity(in_txn!(ctx, |txn| svc::create(&txn, actor, f.clone(), None))))
    }

    /// Changes an activity (send the version you read).
    async fn update_activity(&self, ctx: &Context<'_>, input: UpdateActivityInput) -> async_graphql::Result<Activity> {
        let actor = writer(ctx)?;
        let id = parse_id(&input.id, "Activity")?;
        let p = svc::ActivityPatch {
            kind: input.kind,
            subject: input.subject,
            scheduled_at: input.scheduled_at,
            done_at: input.done_at,
            deal_id: patch(input.deal_id, |id| parse_id(&id, "Deal"))?,
            duration_minutes: patch(input.duration_minutes, Ok)?,
            attendee_count: input.attendee_count,
            notes: patch(input.notes, Ok)?,
            outcome: patch(input.outcome, Ok)?,
            contact_ids: opt_ids(input.contact_ids.as_deref(), "Contact")?,
            product_ids: opt_ids(input.product_ids.as_deref(), "Product")?,
            reactions: input.reactions,
        };
        Ok(Activity(in_txn!(ctx, |txn| svc::update(
            &txn,
            actor,
            id,
            input.version,
            p.clone()
        ))))
    }

    /// Completes a planned activity with its outcome.
    async fn complete_activity(
        &self,
        ctx: &Context<'_>,
        input: CompleteActivityInput,
    ) -> async_graphql::Result<Activity> {
        let actor = writer(ctx)?;
        let (id, version, c) = input.into_parts()?;
        Ok(Activity(in_txn!(ctx, |txn| svc::complete(
            &txn,
            actor,
            id,
            version,
            c.clone(),
            None
        ))))
    }

    /// Cancels a planned activity.
    async fn cancel_activity(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Activity> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Activity")?;
        Ok(Activity(in_txn!(ctx, |txn| svc::cancel(&txn, actor, id, version))))
    }

    /// Soft-deletes an activity.
    async fn delete_activity(&self, ctx: &Context<'_>, id: ID, version: i32) -> async_graphql::Result<Activity> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Activity")?;
        Ok(Activity(in_txn!(ctx, |txn| svc::delete(&txn, actor, id, version))))
    }

    /// Writes your daily report in one call: text, the day's activities with
    /// contacts, products and reactions, and the planned activities completed.
    /// All or nothing.
    async fn submit_daily_report(
        &self,
        ctx: &Context<'_>,
        input: DailyReportInput,
    ) -> async_graphql::Result<DailyReport> {
        let actor = writer(ctx)?;
        if input.activities.iter().any(|a| a.member_id.is_some()) {
            return Err(AppError::bad("activities in your daily report are yours: leave out `memberId`").into());
        }
        let s = svc::ReportSubmission {
            date: input.report_date.0,
            body: input.body,
            version: input.version,
            submit: input.submit,
            activities: input
                .activities
                .into_iter()
                .map(ActivityInput::into_new)
                .collect::<Result<_, _>>()?,
            completed: input
                .completed
                .into_iter()
                .map(CompleteActivityInput::into_parts)
                .collect::<Result<_, _>>()?,
        };
        Ok(DailyReport(in_txn!(ctx, |txn| svc::submit_report(
            &txn,
            actor,
            s.clone()
        ))))
    }
}

/// The activitys a list or an export shows: the caller's readable ones, not
/// deleted, narrowed by `f`.
pub async fn activity_select(
    db: &sea_orm::DatabaseConnection,
    actor: &crate::service::Actor,
    f: ActivityFilter,
) -> async_graphql::Result<sea_orm::Select<activity::Entity>> {
    let mut q = access::select::<activity::Entity>(actor).filter(activity::Column::DeletedAt.is_null());
    if let Some(m) = parse_opt_id(f.member_id.as_ref(), "Member")? {
        q = q.filter(activity::Column::MemberId.eq(m));
    }
    if let Some(team) = &f.team_id {
        q = q.filter(in_team(db, actor, team, activity::Column::MemberId).await?);
    }
    if let Some(c) = parse_opt_id(f.customer_id.as_ref(), "Customer")? {
        q = q.filter(activity::Column::CustomerId.eq(c));
    }
    if let Some(d) = parse_opt_id(f.deal_id.as_ref(), "Deal")? {
        q = q.filter(activity::Column::DealId.eq(d));
    }
    if let Some(kinds) = f.kinds {
        q = q.filter(activity::Column::Kind.is_in(kinds));
    }
    if let Some(s) = f.status {
        q = q.filter(activity::Column::Status.eq(s));
    }
    if let Some(t) = f.from {
        q = q.filter(activity::Column::ScheduledAt.gte(t));
    }
    if let Some(t) = f.to {
        q = q.filter(activity::Column::ScheduledAt.lt(t));
    }
    if let Some(text) = &f.search {
        q = q.filter(search(
            &[Expr::col(activity::Column::Subject), Expr::col(activity::Column::Notes)],
            text,
        )?);
    }
    Ok(q)
}
