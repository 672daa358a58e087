//! One move of a deal between stages.

use sea_orm::entity::prelude::*;

/// One move of a deal between stages.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "deal_stage_history")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The deal.
    pub deal_id: Uuid,
    /// Stage left; `None` when the deal was created.
    pub from_stage: Option<String>,
    /// Stage entered.
    pub to_stage: String,
    /// Member who moved it.
    pub changed_by: Uuid,
    /// When.
    pub changed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
