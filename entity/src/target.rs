//! A plan value (目標) for a member or a team over a period.

use crate::enums::PeriodKind;
use sea_orm::entity::prelude::*;

/// A plan value (目標) for a member or a team over a period.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "target")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The member the target is for (or `team_id`).
    pub member_id: Option<Uuid>,
    /// The team the target is for (or `member_id`).
    pub team_id: Option<Uuid>,
    /// Week, month, quarter or year.
    pub period_kind: PeriodKind,
    /// First day of the period.
    pub period_start: Date,
    /// Metric key (visits_done, sales_amount…).
    pub metric: String,
    /// Target value; money in minor units.
    pub value: i64,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
    /// When the row was last changed (UTC).
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
