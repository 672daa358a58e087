//! Who changed what, when: one row per mutation.

use sea_orm::entity::prelude::*;

/// Who changed what, when: one row per mutation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// Member who did it.
    pub actor_member_id: Option<Uuid>,
    /// API key that did it.
    pub actor_api_key_id: Option<Uuid>,
    /// Mutation name (create, update, delete, move_stage…).
    pub action: String,
    /// Table of the changed record.
    pub entity_type: String,
    /// Changed record.
    pub entity_id: Uuid,
    /// Changed fields: `{field: [before, after]}`.
    #[sea_orm(column_type = "JsonBinary")]
    pub changes: Json,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
