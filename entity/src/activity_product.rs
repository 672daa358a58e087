//! A product introduced during an activity (one-click flag).

use sea_orm::entity::prelude::*;

/// A product introduced during an activity (one-click flag).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "activity_product")]
pub struct Model {
    /// The activity.
    #[sea_orm(primary_key, auto_increment = false)]
    pub activity_id: Uuid,
    /// The product.
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
