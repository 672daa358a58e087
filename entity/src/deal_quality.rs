//! One quality indicator of a deal (商談クオリティ): checked or not, by whom, when.

use sea_orm::entity::prelude::*;

/// One quality indicator of a deal (商談クオリティ): checked or not, by whom, when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "deal_quality")]
pub struct Model {
    /// The deal.
    #[sea_orm(primary_key, auto_increment = false)]
    pub deal_id: Uuid,
    /// Indicator key from the company's process plugin.
    #[sea_orm(primary_key, auto_increment = false)]
    pub indicator: String,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// Whether the indicator holds for the deal.
    pub checked: bool,
    /// Who set it last.
    pub changed_by: Uuid,
    /// When.
    pub changed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
