//! An API key for a BI tool or an integration: company-bound, scoped, stored hashed.

use sea_orm::entity::prelude::*;

/// An API key for a BI tool or an integration: company-bound, scoped, stored hashed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "api_key")]
pub struct Model {
    /// UUID v7; also the public part of the key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this key belongs to.
    pub company_id: Uuid,
    /// What the key is for.
    pub name: String,
    /// `read_only` or `read_write`.
    pub scope: String,
    /// SHA-256 (hex) of the secret part; the secret itself is shown once.
    #[serde(skip)]
    pub secret_hash: String,
    /// The admin who created it; the key acts as them.
    pub created_by: Uuid,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last request made with it.
    pub last_used_at: Option<DateTimeUtc>,
    /// Set when revoked; a revoked key stops working at once.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
