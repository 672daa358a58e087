//! Everyone working on a deal (商談メンバー), across departments.

use sea_orm::entity::prelude::*;

/// Everyone working on a deal (商談メンバー), across departments.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "deal_member")]
pub struct Model {
    /// The deal.
    #[sea_orm(primary_key, auto_increment = false)]
    pub deal_id: Uuid,
    /// The member.
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// What the member does on the deal (sales, engineering…).
    pub role: Option<String>,
    /// When the member joined the deal.
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
