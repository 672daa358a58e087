//! A background re-score of a company's stored energy scores.

use sea_orm::entity::prelude::*;

/// A background re-score of a company's stored energy scores.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "rescore_job")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The company re-scored.
    pub company_id: Uuid,
    /// The scoring version every score is brought to.
    pub scoring_version: String,
    /// `running`, `done` or `failed`.
    pub status: String,
    /// Activities to re-score when the job started.
    pub total: i64,
    /// Activities re-scored so far.
    pub done: i64,
    /// Why the job failed.
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
    /// When it started.
    pub started_at: DateTimeUtc,
    /// Last progress (a running job without progress for a minute is dead).
    pub updated_at: DateTimeUtc,
    /// When it ended.
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
