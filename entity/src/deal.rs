//! An opportunity (商談) moving through the company's stages.

use crate::enums::DealStatus;
use sea_orm::entity::prelude::*;

/// An opportunity (商談) moving through the company's stages.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "deal")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The customer.
    pub customer_id: Uuid,
    /// The member in charge.
    pub owner_id: Uuid,
    /// What is being sold.
    pub name: String,
    /// Stage key from the company's process plugin.
    pub stage: String,
    /// When the deal entered its current stage.
    pub stage_entered_at: DateTimeUtc,
    /// Expected amount in minor units; unknown early on.
    pub amount: Option<i64>,
    /// When the order is expected.
    pub expected_close_date: Option<Date>,
    /// Open, won or lost.
    pub status: DealStatus,
    /// Why the deal was lost.
    pub lost_reason: Option<String>,
    /// Where the deal came from (referral, inbound, seminar…).
    pub origin: Option<String>,
    /// Free notes.
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    /// When the deal was won or lost.
    pub closed_at: Option<DateTimeUtc>,
    /// Time of the latest done activity on the deal.
    pub last_activity_at: Option<DateTimeUtc>,
    /// Member who maintains the quality indicators; `None`: the owner's team manager.
    pub quality_maintainer_id: Option<Uuid>,
    /// Optimistic-concurrency version, +1 on every update.
    pub version: i32,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
    /// When the row was last changed (UTC).
    pub updated_at: DateTimeUtc,
    /// Set when soft-deleted; such rows are hidden from the API.
    pub deleted_at: Option<DateTimeUtc>,
    /// The deal's code in the system it was imported from.
    pub external_code: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
