//! Signing in, and turning a token back into the member behind it.

use chrono::{DateTime, Duration, Utc};
use entity::{login_failure, member};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
};

use super::{Actor, now};
use crate::{
    auth::{Claims, TokenKeys, verify_password},
    config::AuthConfig,
    error::{AppError, AppResult},
    plugins::Plugins,
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
pub async fn login(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    limits: &AuthConfig,
    email: &str,
    password: &str,
) -> AppResult<Login> {
    let refused = || AppError::Unauthenticated("wrong e-mail or password".into());
    if email.len() > 254 || password.len() > 1024 {
        return Err(refused());
    }
    let email = email.trim().to_lowercase();
    let window_start = now() - Duration::minutes(limits.login_window_minutes);
    let recent_failures = login_failure::Entity::find()
        .filter(login_failure::Column::Email.eq(email.clone()))
        .filter(login_failure::Column::FailedAt.gt(window_start))
        .count(db)
        .await?;
    if recent_failures >= u64::from(limits.max_failed_logins) {
        return Err(AppError::Limited(
            "TOO_MANY_ATTEMPTS",
            format!(
                "too many failed logins for this e-mail; try again in {} minutes",
                limits.login_window_minutes
            ),
        ));
    }
    let found = member::Entity::find()
        .filter(member::Column::Email.eq(email.clone()))
        .one(db)
        .await?;
    let Some(member) = found else {
        // Hash anyway so that timing does not reveal which e-mails exist.
        let _ = crate::auth::hash_password(password);
        record_failure(db, &email, window_start).await?;
        return Err(refused());
    };
    let hash = member.password_hash.clone();
    let pw = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    if !ok || !member.active {
        record_failure(db, &email, window_start).await?;
        return Err(refused());
    }
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Email.eq(email))
        .exec(db)
        .await?;
    let (token, expires_at) = keys.issue(member.id, member.company_id, member.token_version);
    Ok(Login {
        token,
        expires_at,
        member,
    })
}

/// Counts a failed login (and forgets this e-mail's failures older than the window).
async fn record_failure(db: &impl ConnectionTrait, email: &str, window_start: DateTime<Utc>) -> AppResult<()> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Email.eq(email))
        .filter(login_failure::Column::FailedAt.lte(window_start))
        .exec(db)
        .await?;
    login_failure::ActiveModel {
        id: Set(super::new_id()),
        email: Set(email.to_owned()),
        failed_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The actor of a verified token, if the member still exists, is active and
/// the token was not revoked.
pub async fn actor_for(db: &impl ConnectionTrait, plugins: &Plugins, claims: &Claims) -> AppResult<Actor> {
    // The member and their company in one statement: every request runs this.
    let company: sea_orm::RelationDef = member::Entity::belongs_to(entity::company::Entity)
        .from(member::Column::CompanyId)
        .to(entity::company::Column::Id)
        .into();
    let found = member::Entity::find_by_id(claims.sub)
        .join(sea_orm::JoinType::InnerJoin, company)
        .select_also(entity::company::Entity)
        .one(db)
        .await?;
    match found {
        Some((m, Some(company))) if m.active && m.company_id == claims.cid && m.token_version == claims.tv => {
            actor_in(db, plugins, &m, &company, None).await
        }
        _ => Err(AppError::Unauthenticated(
            "this token is no longer valid; log in again".into(),
        )),
    }
}

/// The actor for a member (and the API key acting as them, if any).
pub async fn actor_of(
    db: &impl ConnectionTrait,
    plugins: &Plugins,
    m: &member::Model,
    api_key: Option<(uuid::Uuid, super::access::ApiKeyScope)>,
) -> AppResult<Actor> {
    let company = entity::company::Entity::find_by_id(m.company_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Company"))?;
    actor_in(db, plugins, m, &company, api_key).await
}

/// The actor for a member of `company` (already loaded).
async fn actor_in(
    db: &impl ConnectionTrait,
    plugins: &Plugins,
    m: &member::Model,
    company: &entity::company::Model,
    api_key: Option<(uuid::Uuid, super::access::ApiKeyScope)>,
) -> AppResult<Actor> {
    let reach = super::access::reach(db, m, company).await?;
    Ok(Actor {
        member_id: m.id,
        company_id: m.company_id,
        role: m.role,
        team_id: m.team_id,
        api_key,
        reach: std::sync::Arc::new(reach),
        plugins: plugins.for_company(company.plugin_set.as_deref()),
        time_zone: super::period::company_zone(&company.time_zone),
        outbox: Default::default(),
        scripts: crate::plugins::ScriptBudget::unbounded(),
    })
}
