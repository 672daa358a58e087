//! A kind of notification a member does not want.

use crate::enums::NotificationKind;
use sea_orm::entity::prelude::*;

/// A kind of notification a member does not want.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_mute")]
pub struct Model {
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The member.
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: Uuid,
    /// The muted kind.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: NotificationKind,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
