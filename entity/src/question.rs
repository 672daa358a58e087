//! A question about a stage of the sales process.

use sea_orm::entity::prelude::*;

/// A question about a stage of the sales process.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "question")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// Key of the stage it is about (from the company's process plugin).
    pub stage: String,
    /// Who asked.
    pub author_id: Uuid,
    /// One line.
    pub title: String,
    /// The question in full.
    pub body: String,
    /// The answer the asker accepted.
    pub accepted_answer_id: Option<Uuid>,
    /// Live answers.
    pub answer_count: i32,
    /// When it was asked (UTC).
    pub created_at: DateTimeUtc,
    /// When it last changed (UTC).
    pub updated_at: DateTimeUtc,
    /// When it was deleted.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
