//! A failed login, kept for a short while to throttle password guessing.

use sea_orm::entity::prelude::*;

/// A failed login, kept for a short while to throttle password guessing.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_failure")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The e-mail tried (lower-cased), whether or not it exists.
    pub email: String,
    /// When.
    pub failed_at: DateTimeUtc,
    /// The client's address (empty when unknown).
    pub client: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
