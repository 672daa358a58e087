//! A marketing touchpoint (web view, seminar attendance…) imported from other systems.

use sea_orm::entity::prelude::*;

/// A marketing touchpoint (web view, seminar attendance…) imported from other systems.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "touchpoint")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The customer.
    pub customer_id: Uuid,
    /// The contact, when known.
    pub contact_id: Option<Uuid>,
    /// Kind key (web_view, seminar, email_open…).
    pub kind: String,
    /// When it happened.
    pub occurred_at: DateTimeUtc,
    /// Source-specific details.
    #[sea_orm(column_type = "JsonBinary")]
    pub details: Json,
    /// System it came from.
    pub source: Option<String>,
    /// Reference in the system it came from, unique per company (set by imports).
    pub external_ref: Option<String>,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
