//! A tenant: one sales organisation. Every other table points here.

use sea_orm::entity::prelude::*;

/// A tenant: one sales organisation. Every other table points here.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "company")]
pub struct Model {
    /// UUID v7, time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Short unique handle: members name their company with it when they log in.
    pub slug: String,
    /// Name of the company's own folder under `plugins/`; `None` uses `default`.
    pub plugin_set: Option<String>,
    /// ISO 4217 code of every money amount of the company.
    pub currency: String,
    /// IANA time zone (Asia/Tokyo…): what "today" and "this month" mean for the company.
    pub time_zone: String,
    /// Company-wide settings (visibility defaults and the like).
    #[sea_orm(column_type = "JsonBinary")]
    pub settings: Json,
    /// When the row was created (UTC).
    pub created_at: DateTimeUtc,
    /// When the row was last changed (UTC).
    pub updated_at: DateTimeUtc,
    /// Set while the operator has disabled the company: its members are refused.
    pub disabled_at: Option<DateTimeUtc>,
    /// The stored version of the company's process that runs
    /// (`process_version.version`); `None` follows the shipped set `plugin_set`.
    pub process_version: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
