//! A person at a customer (相手先担当者).

use sea_orm::entity::prelude::*;

/// A person at a customer (相手先担当者).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "contact")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The customer the contact works for.
    pub customer_id: Uuid,
    /// Full name.
    pub name: String,
    /// Reading of the name.
    pub name_kana: Option<String>,
    /// Department (部署).
    pub department: Option<String>,
    /// Job title (役職).
    pub title: Option<String>,
    /// Contact level key from the company's plugin (staff, manager, executive…).
    pub level: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Code in the sales-management system, unique per company (set by imports).
    pub external_code: Option<String>,
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
