//! A customer reaction observed during an activity (key from the plugin).

use sea_orm::entity::prelude::*;

/// A customer reaction observed during an activity (key from the plugin).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "activity_reaction")]
pub struct Model {
    /// The activity.
    #[sea_orm(primary_key, auto_increment = false)]
    pub activity_id: Uuid,
    /// Reaction key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub reaction: String,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
