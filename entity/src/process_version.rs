//! One version of a company's process, immutable once written.

use sea_orm::entity::prelude::*;

/// One version of a company's process, immutable once written: published
/// scripts, a rollback to an earlier version, or a switch to a shipped set.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "process_version")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The company.
    pub company_id: Uuid,
    /// 1, 2, 3… per company; the highest is the one that runs.
    pub version: i32,
    /// `published`, `rollback` or `shipped`.
    pub kind: String,
    /// The set of `plugins/` followed (kind `shipped`).
    pub shipped_set: Option<String>,
    /// The version a rollback restored.
    pub restored_from: Option<i32>,
    /// The company's own `process.rhai`, if it has one (else all from `default`).
    #[sea_orm(column_type = "Text")]
    pub process_rhai: Option<String>,
    /// Its own `scoring.rhai`, if any.
    #[sea_orm(column_type = "Text")]
    pub scoring_rhai: Option<String>,
    /// Its own `kpi.rhai`, if any.
    #[sea_orm(column_type = "Text")]
    pub kpi_rhai: Option<String>,
    /// The scoring version of the scripts (stored with every energy score).
    pub scoring_version: String,
    /// Why it was published, in the author's words.
    #[sea_orm(column_type = "Text")]
    pub note: String,
    /// Who published it (`None`: the operator).
    pub author_id: Option<Uuid>,
    /// When.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
