//! A comment (advice) on a daily report, deal, activity or customer; replies nest.

use crate::enums::CommentSubject;
use sea_orm::entity::prelude::*;

/// A comment (advice) on a daily report, deal, activity or customer; replies nest.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "comment")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// Who wrote it.
    pub author_id: Uuid,
    /// What kind of record it is on.
    pub subject_type: CommentSubject,
    /// The record it is on.
    pub subject_id: Uuid,
    /// The comment replied to.
    pub parent_id: Option<Uuid>,
    /// Text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
    /// When the row was last changed (UTC).
    pub updated_at: DateTimeUtc,
    /// Set when soft-deleted; such rows are hidden from the API.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
