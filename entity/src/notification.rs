//! One notification in a member's inbox.

use crate::enums::{NotificationKind, NotificationSubject};
use sea_orm::entity::prelude::*;

/// One notification in a member's inbox.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "notification")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// Whose inbox it is in.
    pub recipient_id: Uuid,
    /// What happened.
    pub kind: NotificationKind,
    /// What kind of record it is about.
    pub subject_type: NotificationSubject,
    /// The record it is about.
    pub subject_id: Uuid,
    /// The comment, for comments and mentions.
    pub comment_id: Option<Uuid>,
    /// Who did it (none for reminders).
    pub actor_id: Option<Uuid>,
    /// One line a person reads.
    pub summary: String,
    /// Makes a reminder raised twice one row.
    pub dedupe_key: Option<String>,
    /// When it happened (UTC).
    pub created_at: DateTimeUtc,
    /// When the recipient read it.
    pub read_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
