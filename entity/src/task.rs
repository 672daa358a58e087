//! A promise or an internal to-do (宿題) with a deadline, visible to the organisation.

use crate::enums::{TaskKind, TaskStatus};
use sea_orm::entity::prelude::*;

/// A promise or an internal to-do (宿題) with a deadline, visible to the organisation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "task")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// What must be done.
    pub title: String,
    /// Details.
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    /// Customer promise or internal.
    pub kind: TaskKind,
    /// Open, done or cancelled.
    pub status: TaskStatus,
    /// Who must do it.
    pub assignee_id: Uuid,
    /// Who created it.
    pub creator_id: Uuid,
    /// Deadline.
    pub due_date: Option<Date>,
    /// Linked customer.
    pub customer_id: Option<Uuid>,
    /// Linked deal.
    pub deal_id: Option<Uuid>,
    /// Activity it came from.
    pub activity_id: Option<Uuid>,
    /// Linked quote.
    pub quote_id: Option<Uuid>,
    /// When it was completed.
    pub completed_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version, +1 on every update.
    pub version: i32,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
    /// When the row was last changed (UTC).
    pub updated_at: DateTimeUtc,
    /// Set when soft-deleted; such rows are hidden from the API.
    pub deleted_at: Option<DateTimeUtc>,
    /// The task's reference in the system it was imported from.
    pub external_ref: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
