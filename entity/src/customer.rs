//! A client company (顧客).

use crate::enums::CustomerStatus;
use sea_orm::entity::prelude::*;

/// A client company (顧客).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "customer")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The customer's segment.
    pub group_id: Option<Uuid>,
    /// The member in charge.
    pub owner_id: Uuid,
    /// Company name.
    pub name: String,
    /// Reading of the name, for sorting and search.
    pub name_kana: Option<String>,
    /// Code in the sales-management master, unique per company.
    pub external_code: Option<String>,
    /// A key account (重点顧客).
    pub is_priority: bool,
    /// Prospect, active or dormant.
    pub status: CustomerStatus,
    /// Industry, free text.
    pub industry: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Main phone number.
    pub phone: Option<String>,
    /// Web site.
    pub website: Option<String>,
    /// Company-defined extra fields.
    #[sea_orm(column_type = "JsonBinary")]
    pub custom_fields: Json,
    /// Time of the latest done activity (最終接触日).
    pub last_contact_at: Option<DateTimeUtc>,
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
