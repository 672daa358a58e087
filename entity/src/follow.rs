//! A record a member follows: comments on it reach them.

use crate::enums::NotificationSubject;
use sea_orm::entity::prelude::*;

/// A record a member follows: comments on it reach them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follow")]
pub struct Model {
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The follower.
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: Uuid,
    /// What kind of record.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_type: NotificationSubject,
    /// The record.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_id: Uuid,
    /// Since when (UTC).
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
