//! Something the company sells (商材); focus products carry proposal targets.

use sea_orm::entity::prelude::*;

/// Something the company sells (商材); focus products carry proposal targets.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "product")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// Code in the sales-management master.
    pub code: Option<String>,
    /// Display name.
    pub name: String,
    /// Product category.
    pub category: Option<String>,
    /// A focus product the plan says must be proposed.
    pub is_focus: bool,
    /// List price in minor units.
    pub unit_price: Option<i64>,
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
