//! A quote on a deal (見積).

use crate::enums::QuoteStatus;
use sea_orm::entity::prelude::*;

/// A quote on a deal (見積).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "quote")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The deal.
    pub deal_id: Uuid,
    /// Quote number as printed.
    pub number: Option<String>,
    /// Title.
    pub title: String,
    /// Quoted amount in minor units.
    pub amount: i64,
    /// Draft, sent, accepted, rejected or expired.
    pub status: QuoteStatus,
    /// Date of issue.
    pub issued_on: Option<Date>,
    /// Last day the quote holds.
    pub valid_until: Option<Date>,
    /// Optimistic-concurrency version, +1 on every update.
    pub version: i32,
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
