//! A sign-in: what a login token names, so that it can be signed out on its
//! own (`logout`) or with all the member's others (`logoutEverywhere`).

use sea_orm::entity::prelude::*;

/// A sign-in: what a login token names, so that it can be signed out.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_session")]
pub struct Model {
    /// UUID v7, carried in the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The member's company.
    pub company_id: Uuid,
    /// Who signed in.
    pub member_id: Uuid,
    /// When.
    pub created_at: DateTimeUtc,
    /// When its token stops working.
    pub expires_at: DateTimeUtc,
    /// The client's address at sign-in.
    pub client: String,
    /// The client's `User-Agent` at sign-in (cut to 256 characters).
    pub user_agent: String,
    /// Set when signed out.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
