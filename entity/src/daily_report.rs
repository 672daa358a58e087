//! One member's report for one day (日報): the day's activities and free text.

use sea_orm::entity::prelude::*;

/// One member's report for one day (日報): the day's activities and free text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "daily_report")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The author.
    pub member_id: Uuid,
    /// The day reported on.
    pub report_date: Date,
    /// Free text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// When it was submitted; `None` while a draft.
    pub submitted_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version, +1 on every update.
    pub version: i32,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
    /// When the row was last changed (UTC).
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
