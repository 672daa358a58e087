//! A sales activity: planned first, then done or cancelled.

use crate::enums::{ActivityKind, ActivityStatus};
use sea_orm::entity::prelude::*;

/// A sales activity: planned first, then done or cancelled.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "activity")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// Who does it.
    pub member_id: Uuid,
    /// With which customer.
    pub customer_id: Uuid,
    /// On which deal, if any.
    pub deal_id: Option<Uuid>,
    /// The daily report that recorded it.
    pub daily_report_id: Option<Uuid>,
    /// Visit, call, e-mail, web meeting, seminar or other.
    pub kind: ActivityKind,
    /// Planned, done or cancelled.
    pub status: ActivityStatus,
    /// Short title.
    pub subject: String,
    /// When it is (or was) planned to happen.
    pub scheduled_at: DateTimeUtc,
    /// When it happened.
    pub done_at: Option<DateTimeUtc>,
    /// How long it took.
    pub duration_minutes: Option<i32>,
    /// Number of customer-side attendees.
    pub attendee_count: i32,
    /// What was discussed.
    #[sea_orm(column_type = "Text")]
    pub notes: Option<String>,
    /// Result recorded when completing it.
    #[sea_orm(column_type = "Text")]
    pub outcome: Option<String>,
    /// Engagement score given by the scoring plugin.
    pub energy_points: Option<i32>,
    /// Plugin version that computed `energy_points`.
    pub energy_version: Option<String>,
    /// Optimistic-concurrency version, +1 on every update.
    pub version: i32,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
    /// When the row was last changed (UTC).
    pub updated_at: DateTimeUtc,
    /// Set when soft-deleted; such rows are hidden from the API.
    pub deleted_at: Option<DateTimeUtc>,
    /// The activity's reference in the system it was imported from.
    pub external_ref: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
