//! Signing in, and turning a token back into the member behind it.

use chrono::{DateTime, Duration, Utc};
use entity::{login_failure, login_session, member};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

use super::{Actor, now};
use crate::{
    auth::{Claims, TokenKeys, verify_password},
    config::AuthConfig,
    error::{AppError, AppResult},
    plugins::Plugins,
};

/// Who is signing in, as the server sees them: the client's address (the
/// socket's, or a trusted proxy's `X-Forwarded-For`) and `User-Agent`.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The client's address, when known.
    pub addr: Option<std::net::IpAddr>,
    /// The `User-Agent` header, cut to 256 characters.
    pub user_agent: String,
}

impl Client {
    /// The key failures are counted under (empty when the address is unknown).
    fn key(&self) -> String {
        self.addr.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// A successful login.
pub struct Login {
    /// Bearer token.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// The member signed in.
    pub member: member::Model,
}

fn too_many(message: String) -> AppError {
    AppError::Limited("TOO_MANY_ATTEMPTS", message)
}

/// Refuses a guess from `client` at `email`'s password while throttled:
///
/// - per (e-mail, client): `max_failed_logins` failures within the window
///   are free; after that each try waits `login_backoff_secs`, doubled per
///   further failure (capped at the window), since the pair's last failure.
///   A stranger guessing at an address slows down only their own tries: the
///   member signing in from their own client is not affected.
/// - per client, across e-mails: `max_failed_logins_per_client` failures
///   within the window, then nothing from that client until the window has
///   passed (one client trying many addresses).
pub async fn throttle(db: &impl ConnectionTrait, limits: &AuthConfig, email: &str, client: &Client) -> AppResult<()> {
    let t = now();
    let window_start = t - Duration::minutes(limits.login_window_minutes);
    let client_key = client.key();
    let pair = login_failure::Entity::find()
        .filter(login_failure::Column::Email.eq(email))
        .filter(login_failure::Column::Client.eq(client_key.clone()))
        .filter(login_failure::Column::FailedAt.gt(window_start))
        .select_only()
        .column_as(login_failure::Column::Id.count(), "n")
        .column_as(login_failure::Column::FailedAt.max(), "last")
        .into_tuple::<(i64, Option<DateTime<Utc>>)>()
        .one(db)
        .await?;
    if let Some((n, Some(last))) = pair
        && n >= i64::from(limits.max_failed_logins)
    {
        let doublings = (n - i64::from(limits.max_failed_logins)).min(20) as u32;
        let wait = Duration::seconds(limits.login_backoff_secs.saturating_mul(1 << doublings))
            .min(Duration::minutes(limits.login_window_minutes));
        let left = (last + wait - t).num_milliseconds();
        if left > 0 {
            let left = (left + 999) / 1000;
            return Err(too_many(format!(
                "too many failed logins for this e-mail from your address; try again in {left} seconds"
            )));
        }
    }
    if !client_key.is_empty() {
        let from_client = login_failure::Entity::find()
            .filter(login_failure::Column::Client.eq(client_key))
            .filter(login_failure::Column::FailedAt.gt(window_start))
            .count(db)
            .await?;
        if from_client >= u64::from(limits.max_failed_logins_per_client) {
            return Err(too_many(format!(
                "too many failed logins from your address; try again in {} minutes",
                limits.login_window_minutes
            )));
        }
    }
    Ok(())
}

/// Counts a failed guess (and forgets failures older than the window).
pub async fn record_failure(
    db: &impl ConnectionTrait,
    limits: &AuthConfig,
    email: &str,
    client: &Client,
) -> AppResult<()> {
    let window_start = now() - Duration::minutes(limits.login_window_minutes);
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Email.eq(email))
        .filter(login_failure::Column::FailedAt.lte(window_start))
        .exec(db)
        .await?;
    login_failure::ActiveModel {
        id: Set(super::new_id()),
        email: Set(email.to_owned()),
        failed_at: Set(now()),
        client: Set(client.key()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Checks e-mail and password; the same error for an unknown e-mail, a
/// wrong password and an inactive member, so nothing can be probed.
///
/// E-mail addresses are unique per company: the same person may be a member
/// of several. Without `company` (a slug), the password decides: the one
/// membership it opens signs in; when it opens several, the caller is asked
/// to name the company (COMPANY_REQUIRED). Someone with one account never
/// notices.
pub async fn login(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    limits: &AuthConfig,
    client: &Client,
    email: &str,
    password: &str,
    company: Option<&str>,
) -> AppResult<Login> {
    let refused = || AppError::Unauthenticated("wrong e-mail or password".into());
    if email.len() > 254 || password.len() > 1024 || company.is_some_and(|c| c.len() > 64) {
        return Err(refused());
    }
    let email = email.trim().to_lowercase();
    throttle(db, limits, &email, client).await?;
    let mut query = member::Entity::find().filter(member::Column::Email.eq(email.clone()));
    if let Some(slug) = company {
        let of_company: sea_orm::RelationDef = member::Entity::belongs_to(entity::company::Entity)
            .from(member::Column::CompanyId)
            .to(entity::company::Column::Id)
            .into();
        query = query
            .join(sea_orm::JoinType::InnerJoin, of_company)
            .filter(entity::company::Column::Slug.eq(slug.trim().to_lowercase()));
    }
    // A person in more companies than this names the company.
    let found = query.limit(10).all(db).await?;
    let pw = password.to_owned();
    let hashes: Vec<String> = found.iter().map(|m| m.password_hash.clone()).collect();
    let matched: Vec<bool> = tokio::task::spawn_blocking(move || {
        if hashes.is_empty() {
            // Hash anyway so that timing does not reveal which e-mails exist.
            let _ = crate::auth::hash_password(&pw);
        }
        hashes.iter().map(|h| verify_password(&pw, h)).collect()
    })
    .await
    .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    let opened: Vec<&member::Model> = found
        .iter()
        .zip(matched)
        .filter(|(m, ok)| *ok && m.active)
        .map(|(m, _)| m)
        .collect();
    let member = match opened[..] {
        [] => {
            record_failure(db, limits, &email, client).await?;
            return Err(refused());
        }
        [one] => one.clone(),
        _ => {
            return Err(AppError::Limited(
                "COMPANY_REQUIRED",
                "this e-mail and password sign in to several companies; send `company` with the slug of the one you mean"
                    .into(),
            ));
        }
    };
    // Only after the password matched: whether a company is disabled tells
    // nothing to someone guessing.
    let company = entity::company::Entity::find_by_id(member.company_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Company"))?;
    super::company::ensure_enabled(&company)?;
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Email.eq(email))
        .filter(login_failure::Column::Client.eq(client.key()))
        .exec(db)
        .await?;
    let (token, expires_at) = open_session(db, keys, &member, client).await?;
    Ok(Login {
        token,
        expires_at,
        member,
    })
}

/// Starts a session for `member` and returns its token.
pub async fn open_session(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    member: &member::Model,
    client: &Client,
) -> AppResult<(String, DateTime<Utc>)> {
    let id = super::new_id();
    let expires_at = now() + keys.ttl();
    login_session::ActiveModel {
        id: Set(id),
        company_id: Set(member.company_id),
        member_id: Set(member.id),
        created_at: Set(now()),
        expires_at: Set(expires_at),
        client: Set(client.key()),
        user_agent: Set(client.user_agent.chars().take(256).collect()),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(keys.issue_until(member.id, member.company_id, member.token_version, id, expires_at))
}

/// Ends sessions of the caller: the one of this request, or all of them.
/// Returns how many were open.
pub async fn logout(db: &impl ConnectionTrait, actor: &Actor, everywhere: bool) -> AppResult<u64> {
    let Some(current) = actor.session_id else {
        return Err(AppError::Forbidden(
            "an API key has no session; an admin revokes it with revokeApiKey".into(),
        ));
    };
    let mut update = login_session::Entity::update_many()
        .col_expr(login_session::Column::RevokedAt, sea_orm::sea_query::Expr::val(now()))
        .filter(login_session::Column::CompanyId.eq(actor.company_id))
        .filter(login_session::Column::MemberId.eq(actor.member_id))
        .filter(login_session::Column::RevokedAt.is_null());
    if !everywhere {
        update = update.filter(login_session::Column::Id.eq(current));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// The caller's sessions that still work, newest first.
pub async fn sessions(db: &impl ConnectionTrait, actor: &Actor) -> AppResult<Vec<login_session::Model>> {
    Ok(login_session::Entity::find()
        .filter(login_session::Column::CompanyId.eq(actor.company_id))
        .filter(login_session::Column::MemberId.eq(actor.member_id))
        .filter(login_session::Column::RevokedAt.is_null())
        .filter(login_session::Column::ExpiresAt.gt(now()))
        .order_by_desc(login_session::Column::CreatedAt)
        .limit(100)
        .all(db)
        .await?)
}

/// Ends one of the caller's sessions (another device); NOT_FOUND when it is
/// not theirs or already ended.
pub async fn revoke_session(db: &impl ConnectionTrait, actor: &Actor, id: uuid::Uuid) -> AppResult<()> {
    let done = login_session::Entity::update_many()
        .col_expr(login_session::Column::RevokedAt, sea_orm::sea_query::Expr::val(now()))
        .filter(login_session::Column::Id.eq(id))
        .filter(login_session::Column::CompanyId.eq(actor.company_id))
        .filter(login_session::Column::MemberId.eq(actor.member_id))
        .filter(login_session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::NotFound("Session"));
    }
    Ok(())
}

/// The actor of a verified token, if the member still exists, is active,
/// the token was not revoked (token version) and its session is open.
pub async fn actor_for(db: &impl ConnectionTrait, plugins: &Plugins, claims: &Claims) -> AppResult<Actor> {
    // The member, their company and the session in one statement: every request runs this.
    let company: sea_orm::RelationDef = member::Entity::belongs_to(entity::company::Entity)
        .from(member::Column::CompanyId)
        .to(entity::company::Column::Id)
        .into();
    let session: sea_orm::RelationDef = member::Entity::belongs_to(login_session::Entity)
        .from(member::Column::Id)
        .to(login_session::Column::MemberId)
        .into();
    let found = member::Entity::find_by_id(claims.sub)
        .join(sea_orm::JoinType::InnerJoin, company)
        .join(sea_orm::JoinType::InnerJoin, session)
        .filter(login_session::Column::Id.eq(claims.sid))
        .filter(login_session::Column::RevokedAt.is_null())
        .select_also(entity::company::Entity)
        .one(db)
        .await?;
    match found {
        Some((m, Some(company))) if m.active && m.company_id == claims.cid && m.token_version == claims.tv => {
            let mut actor = actor_in(db, plugins, &m, &company, None).await?;
            actor.session_id = Some(claims.sid);
            Ok(actor)
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
    super::company::ensure_enabled(company)?;
    let reach = super::access::reach(db, m, company).await?;
    Ok(Actor {
        member_id: m.id,
        company_id: m.company_id,
        role: m.role,
        team_id: m.team_id,
        api_key,
        reach: std::sync::Arc::new(reach),
        plugins: super::process::set_of(db, plugins, company).await?,
        time_zone: super::period::company_zone(&company.time_zone),
        outbox: Default::default(),
        scripts: crate::plugins::ScriptBudget::unbounded(),
        session_id: None,
    })
}
