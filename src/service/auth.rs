//! Signing in, and turning a token back into the member behind it.

use chrono::{DateTime, Utc};
use entity::member;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::Actor;
use crate::{
    auth::{Claims, TokenKeys, verify_password},
    error::{AppError, AppResult},
};

/// A successful login.
pub struct Login {
    /// Bearer token.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// The member signed in.
    pub member: member::Model,
}

/// Checks e-mail and password; the same error for an unknown e-mail, a
/// wrong password and an inactive member, so nothing can be probed.
pub async fn login(db: &impl ConnectionTrait, keys: &TokenKeys, email: &str, password: &str) -> AppResult<Login> {
    let refused = || AppError::Unauthenticated("wrong e-mail or password".into());
    if email.len() > 254 || password.len() > 1024 {
        return Err(refused());
    }
    let found = member::Entity::find()
        .filter(member::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?;
    let Some(member) = found else {
        // Hash anyway so that timing does not reveal which e-mails exist.
        let _ = crate::auth::hash_password(password);
        return Err(refused());
    };
    let hash = member.password_hash.clone();
    let pw = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    if !ok || !member.active {
        return Err(refused());
    }
    let (token, expires_at) = keys.issue(member.id, member.company_id, member.token_version);
    Ok(Login {
        token,
        expires_at,
        member,
    })
}

/// The actor of a verified token, if the member still exists, is active and
/// the token was not revoked.
pub async fn actor_for(db: &impl ConnectionTrait, claims: &Claims) -> AppResult<Actor> {
    let member = member::Entity::find_by_id(claims.sub).one(db).await?;
    match member {
        Some(m) if m.active && m.company_id == claims.cid && m.token_version == claims.tv => {
            actor_of(db, &m, None).await
        }
        _ => Err(AppError::Unauthenticated(
            "this token is no longer valid; log in again".into(),
        )),
    }
}

/// The actor for a member (and the API key acting as them, if any).
pub async fn actor_of(
    db: &impl ConnectionTrait,
    m: &member::Model,
    api_key: Option<(uuid::Uuid, super::access::ApiKeyScope)>,
) -> AppResult<Actor> {
    let reach = super::access::reach(db, m).await?;
    Ok(Actor {
        member_id: m.id,
        company_id: m.company_id,
        role: m.role,
        team_id: m.team_id,
        api_key,
        reach: std::sync::Arc::new(reach),
    })
}
