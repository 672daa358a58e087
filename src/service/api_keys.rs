//! API keys for BI tools and integrations.
//!
//! A key is `sfak_<id>_<secret>`: the id finds the row, the secret (256
//! random bits) is checked against its SHA-256 in constant time. Only the
//! hash is stored; the whole key is shown once, at creation. A key acts as
//! the admin who created it and stops working when it is revoked or that
//! admin is deactivated or no longer an admin.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::Duration;
use entity::{api_key, enums::Role, member};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Actor, access::ApiKeyScope, audit, insert_audited, new_id, now, validate};
use crate::error::{AppError, AppResult};

const PREFIX: &str = "sfak_";

fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True when the bearer token looks like an API key rather than a login token.
pub fn is_api_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// Creates a key; returns the row and the full key, shown only now.
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    name: &str,
    scope: ApiKeyScope,
) -> AppResult<(api_key::Model, String)> {
    actor.require_admin("create API keys")?;
    if actor.api_key.is_some() {
        return Err(AppError::Forbidden(
            "API keys cannot create API keys; sign in as an admin".into(),
        ));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = B64.encode(bytes);
    let am = api_key::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        name: Set(validate::text("name", name, 200)?),
        scope: Set(scope.as_str().to_owned()),
        secret_hash: Set(digest(&secret)),
        created_by: Set(actor.member_id),
        created_at: Set(now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    };
    let key = insert_audited(db, actor, am).await?;
    let full = format!("{PREFIX}{}_{secret}", key.id.simple());
    Ok((key, full))
}

/// Revokes a key at once.
pub async fn revoke(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<api_key::Model> {
    actor.require_admin("revoke API keys")?;
    let before = api_key::Entity::find_by_id(id)
        .filter(api_key::Column::CompanyId.eq(actor.company_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("API key"))?;
    if before.revoked_at.is_some() {
        return Err(AppError::bad("the key is already revoked"));
    }
    let mut am = before.clone().into_active_model();
    am.revoked_at = Set(Some(now()));
    let after = am.update(db).await?;
    audit::record(db, actor, "revoke", &("api_key", id), Some(&before), Some(&after)).await?;
    Ok(after)
}

/// The actor behind an API key, or UNAUTHENTICATED.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    plugins: &crate::plugins::Plugins,
    token: &str,
) -> AppResult<Actor> {
    let refused = || AppError::Unauthenticated("invalid or revoked API key".into());
    let rest = token.strip_prefix(PREFIX).ok_or_else(refused)?;
    let (id, secret) = rest.split_once('_').ok_or_else(refused)?;
    let id = Uuid::try_parse(id).map_err(|_| refused())?;
    let key = api_key::Entity::find_by_id(id).one(db).await?.ok_or_else(refused)?;
    let matches: bool = {
        use subtle::ConstantTimeEq;
        digest(secret).as_bytes().ct_eq(key.secret_hash.as_bytes()).into()
    };
    if !matches || key.revoked_at.is_some() {
        return Err(refused());
    }
    let scope = ApiKeyScope::parse(&key.scope).ok_or_else(refused)?;
    let creator = member::Entity::find_by_id(key.created_by)
        .one(db)
        .await?
        .ok_or_else(refused)?;
    if !creator.active || creator.role != Role::Admin || creator.company_id != key.company_id {
        return Err(AppError::Unauthenticated(
            "this API key's admin is no longer an active admin".into(),
        ));
    }
    // Record use, at most once a minute per key, so a busy BI tool adds no write per request.
    let t = now();
    if key.last_used_at.is_none_or(|last| t - last > Duration::minutes(1)) {
        let mut am = key.clone().into_active_model();
        am.last_used_at = Set(Some(t));
        am.update(db).await?;
    }
    super::auth::actor_of(db, plugins, &creator, Some((key.id, scope))).await
}
