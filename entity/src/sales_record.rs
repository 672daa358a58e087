//! An actual sale imported from the sales-management system (販売管理).

use sea_orm::entity::prelude::*;

/// An actual sale imported from the sales-management system (販売管理).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "sales_record")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The customer billed.
    pub customer_id: Uuid,
    /// The product sold.
    pub product_id: Option<Uuid>,
    /// The member credited.
    pub member_id: Option<Uuid>,
    /// Date of the sale.
    pub sold_on: Date,
    /// Sales amount in minor units.
    pub amount: i64,
    /// Gross profit in minor units.
    pub gross_profit: i64,
    /// Units sold.
    pub quantity: Option<i32>,
    /// Id in the source system; re-imports update by it.
    pub external_ref: String,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
