//! Tasks: promises to customers and internal to-dos, with deadlines.

use chrono::NaiveDate;
use entity::{
    activity, customer, deal,
    enums::{TaskKind, TaskStatus},
    quote, task,
};
use sea_orm::{ConnectionTrait, IntoActiveModel, Set};
use uuid::Uuid;

use super::{
    Actor, access, catalog::active_member, customer::Patch, delete_versioned, expect_version, find_live,
    insert_audited, new_id, now, update_versioned, validate,
};
use crate::error::{AppError, AppResult};

/// A new task. Links fill each other in: an activity gives its customer and
/// deal, a quote its deal, a deal its customer.
#[derive(Clone)]
pub struct NewTask {
    /// What must be done.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// Kind (default: customer promise when linked to a customer, else internal).
    pub kind: Option<TaskKind>,
    /// Who must do it (default: the caller).
    pub assignee_id: Option<Uuid>,
    /// Deadline.
    pub due_date: Option<NaiveDate>,
    /// Customer.
    pub customer_id: Option<Uuid>,
    /// Deal.
    pub deal_id: Option<Uuid>,
    /// Activity it came from.
    pub activity_id: Option<Uuid>,
    /// Quote.
    pub quote_id: Option<Uuid>,
}

impl NewTask {
    /// An open task for the caller with just a title; link it as needed.
    pub fn titled(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            description: None,
            kind: None,
            assignee_id: None,
            due_date: None,
            customer_id: None,
            deal_id: None,
            activity_id: None,
            quote_id: None,
        }
    }
}

/// Changes to a task's text and deadline.
#[derive(Clone, Default)]
pub struct TaskPatch {
    /// Title.
    pub title: Option<String>,
    /// Details.
    pub description: Patch<String>,
    /// Kind.
    pub kind: Option<TaskKind>,
    /// Deadline.
    pub due_date: Patch<NaiveDate>,
}

fn mismatch(what: &str) -> AppError {
    AppError::bad(format!("the task's links disagree: {what}"))
}

/// Creates a task, from scratch or from an activity, deal or quote.
pub async fn create(db: &impl ConnectionTrait, actor: &Actor, f: NewTask) -> AppResult<task::Model> {
    let (mut customer_id, mut deal_id) = (f.customer_id, f.deal_id);
    if let Some(id) = f.activity_id {
        let a = access::find_readable::<activity::Entity>(db, actor, id, Some(activity::Column::DeletedAt)).await?;
        if customer_id.is_some_and(|c| c != a.customer_id) {
            return Err(mismatch("`customerId` is not the activity's customer"));
        }
        if deal_id.is_some() && a.deal_id.is_some() && deal_id != a.deal_id {
            return Err(mismatch("`dealId` is not the activity's deal"));
        }
        customer_id = Some(a.customer_id);
        deal_id = deal_id.or(a.deal_id);
    }
    if let Some(id) = f.quote_id {
        let q = access::find_readable::<quote::Entity>(db, actor, id, Some(quote::Column::DeletedAt)).await?;
        if deal_id.is_some_and(|d| d != q.deal_id) {
            return Err(mismatch("`dealId` is not the quote's deal"));
        }
        deal_id = Some(q.deal_id);
    }
    if let Some(id) = deal_id {
        let d = access::find_readable::<deal::Entity>(db, actor, id, Some(deal::Column::DeletedAt)).await?;
        if customer_id.is_some_and(|c| c != d.customer_id) {
            return Err(mismatch("`customerId` is not the deal's customer"));
        }
        customer_id = Some(d.customer_id);
    }
    if let Some(id) = customer_id {
        access::find_readable::<customer::Entity>(db, actor, id, Some(customer::Column::DeletedAt)).await?;
    }
    let assignee = f.assignee_id.unwrap_or(actor.member_id);
    active_member(db, actor, assignee).await?;
    let kind = f.kind.unwrap_or(if customer_id.is_some() {
        TaskKind::CustomerPromise
    } else {
        TaskKind::Internal
    });
    let t = now();
    let am = task::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        title: Set(validate::text("title", &f.title, 200)?),
        description: Set(validate::opt_text("description", f.description, validate::LONG_TEXT)?),
        kind: Set(kind),
        status: Set(TaskStatus::Open),
        assignee_id: Set(assignee),
        creator_id: Set(actor.member_id),
        due_date: Set(f.due_date),
        customer_id: Set(customer_id),
        deal_id: Set(deal_id),
        activity_id: Set(f.activity_id),
        quote_id: Set(f.quote_id),
        completed_at: Set(None),
        version: Set(1),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
        external_ref: Set(None),
    };
    let created = insert_audited(db, actor, am).await?;
    super::notify::task_assigned(db, actor, &created).await?;
    Ok(created)
}

/// Changes a task's text, kind or deadline at `version`.
pub async fn update(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    p: TaskPatch,
) -> AppResult<task::Model> {
    let before = find_live::<task::Entity>(db, actor, id).await?;
    access::can_edit_task(actor, &before)?;
    expect_version::<task::Entity>(&before, version)?;
    let mut am = before.clone().into_active_model();
    if let Some(t) = p.title {
        am.title = Set(validate::text("title", &t, 200)?);
    }
    if let Some(d) = p.description {
        am.description = Set(validate::opt_text("description", d, validate::LONG_TEXT)?);
    }
    if let Some(k) = p.kind {
        am.kind = Set(k);
    }
    if let Some(d) = p.due_date {
        am.due_date = Set(d);
    }
    update_versioned(db, actor, "update", &before, version, am).await
}

/// Moves a task to `status` (DONE records the completion time).
pub async fn set_status(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    status: TaskStatus,
) -> AppResult<task::Model> {
    let before = find_live::<task::Entity>(db, actor, id).await?;
    access::can_edit_task(actor, &before)?;
    expect_version::<task::Entity>(&before, version)?;
    if before.status == status {
        return Err(AppError::bad(format!("the task is already {}", status.as_str())));
    }
    let mut am = before.clone().into_active_model();
    am.status = Set(status);
    am.completed_at = Set((status == TaskStatus::Done).then(now));
    let action = match status {
        TaskStatus::Done => "complete",
        TaskStatus::Open => "reopen",
        TaskStatus::Cancelled => "cancel",
    };
    update_versioned(db, actor, action, &before, version, am).await
}

/// Gives a task to another member.
pub async fn reassign(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    assignee: Uuid,
) -> AppResult<task::Model> {
    let before = find_live::<task::Entity>(db, actor, id).await?;
    access::can_edit_task(actor, &before)?;
    expect_version::<task::Entity>(&before, version)?;
    active_member(db, actor, assignee).await?;
    let mut am = before.clone().into_active_model();
    am.assignee_id = Set(assignee);
    let after = update_versioned(db, actor, "reassign", &before, version, am).await?;
    if after.assignee_id != before.assignee_id {
        super::notify::task_assigned(db, actor, &after).await?;
    }
    Ok(after)
}

/// Soft-deletes a task.
pub async fn delete(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, version: i32) -> AppResult<task::Model> {
    let before = find_live::<task::Entity>(db, actor, id).await?;
    access::can_edit_task(actor, &before)?;
    delete_versioned::<task::Entity, task::ActiveModel>(db, actor, &before, version).await
}
