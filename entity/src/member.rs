//! A person of the company who signs in: rep, manager or admin.

use crate::enums::Role;
use sea_orm::entity::prelude::*;

/// A person of the company who signs in: rep, manager or admin.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "member")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The member's team.
    pub team_id: Option<Uuid>,
    /// Login e-mail, lower-cased, unique across the server.
    pub email: String,
    /// Display name.
    pub name: String,
    /// What the member may do.
    pub role: Role,
    /// Argon2id PHC string; never leaves the server.
    #[serde(skip)]
    pub password_hash: String,
    /// Inactive members cannot sign in and their tokens stop working.
    pub active: bool,
    /// Bumped to revoke every token issued before.
    pub token_version: i32,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
    /// When the row was last changed (UTC).
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
