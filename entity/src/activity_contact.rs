//! A contact met during an activity.

use sea_orm::entity::prelude::*;

/// A contact met during an activity.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "activity_contact")]
pub struct Model {
    /// The activity.
    #[sea_orm(primary_key, auto_increment = false)]
    pub activity_id: Uuid,
    /// The contact.
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact_id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
