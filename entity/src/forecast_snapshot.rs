//! A member's or team's landing forecast for a month, as it stood in one week.

use sea_orm::entity::prelude::*;

/// A member's or team's landing forecast for a month, as it stood in one week.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "forecast_snapshot")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The company.
    pub company_id: Uuid,
    /// `member` or `team`.
    pub subject_kind: String,
    /// The member or team.
    pub subject_id: Uuid,
    /// First day of the month forecast.
    pub month: Date,
    /// Monday of the week the snapshot stands for (company time zone); the
    /// row holds the week's latest figures and stays once the week is over.
    pub week_start: Date,
    /// Sales booked in the month (sales records).
    pub booked_sales: i64,
    /// Their gross profit.
    pub gross_profit: i64,
    /// Open deals expected to close in the month.
    pub pipeline_deals: i64,
    /// Their amount.
    pub pipeline_amount: i64,
    /// Their amount weighted by stage probability.
    pub weighted_amount: i64,
    /// The month's sales target, when one is set.
    pub target: Option<i64>,
    /// When the figures were last taken.
    pub taken_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
