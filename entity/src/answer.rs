//! An answer to a question about a stage.

use sea_orm::entity::prelude::*;

/// An answer to a question about a stage.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "answer")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The question.
    pub question_id: Uuid,
    /// Who answered.
    pub author_id: Uuid,
    /// The answer.
    pub body: String,
    /// When it was written (UTC).
    pub created_at: DateTimeUtc,
    /// When it last changed (UTC).
    pub updated_at: DateTimeUtc,
    /// When it was deleted.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
