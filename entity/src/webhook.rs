//! An outgoing webhook of a company: where chosen events are posted.

use sea_orm::entity::prelude::*;

/// An outgoing webhook of a company: where chosen events are posted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "webhook")]
pub struct Model {
    /// UUID v7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// What the admin calls it ("#sales channel").
    pub name: String,
    /// Where events are posted (http or https).
    pub url: String,
    /// Key of the HMAC-SHA256 signature; never shown after it is made.
    #[serde(skip)]
    pub secret: String,
    /// The event kinds it wants, as a JSON array of kind names.
    pub events: Json,
    /// Paused webhooks get no new deliveries.
    pub active: bool,
    /// When it was made (UTC).
    pub created_at: DateTimeUtc,
    /// When it was last changed (UTC).
    pub updated_at: DateTimeUtc,
    /// When it was deleted; its delivery log stays.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
