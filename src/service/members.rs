//! Member lifecycle: admins create, change, deactivate members and reset
//! passwords; members change their own password.

use entity::{enums::Role, member, team};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use uuid::Uuid;

use super::{Actor, find_live, find_member, insert_audited, new_id, now, update_audited, validate};
use crate::{
    auth::{hash_password, verify_password},
    error::{AppError, AppResult},
};

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

fn check_password(password: &str) -> AppResult<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=256).contains(&n) {
        return Err(AppError::bad(format!(
            "a password has {MIN_PASSWORD} to 256 characters"
        )));
    }
    Ok(())
}

/// The password to set: the one given (checked), or a generated one,
/// returned a second time to be shown once.
pub(crate) fn chosen_or_generated(given: Option<String>) -> AppResult<(String, Option<String>)> {
    match given {
        Some(p) => {
            check_password(&p)?;
            Ok((p, None))
        }
        None => {
            let p = generated_password();
            Ok((p.clone(), Some(p)))
        }
    }
}

/// A random password for a new member or a reset, shown once.
fn generated_password() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) async fn hash(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(format!("hashing failed: {e}")))?
}

pub(crate) fn email(value: &str) -> AppResult<String> {
    let e = value.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
    if !valid {
        return Err(AppError::bad(format!("{value:?} is not an e-mail address")));
    }
    Ok(e)
}

async fn check_team(db: &impl ConnectionTrait, actor: &Actor, team: Option<Uuid>) -> AppResult<()> {
    if let Some(id) = team {
        find_live::<team::Entity>(db, actor, id).await?;
    }
    Ok(())
}

/// A new member.
#[derive(Clone)]
pub struct NewMember {
    /// Login e-mail.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Team.
    pub team_id: Option<Uuid>,
    /// Initial password; generated (and returned once) when absent.
    pub password: Option<String>,
}

/// Creates a member; returns it with the generated password, if one was made.
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    f: NewMember,
) -> AppResult<(member::Model, Option<String>)> {
    actor.require_admin("create members")?;
    let email = email(&f.email)?;
    check_team(db, actor, f.team_id).await?;
    // Unique within the company only: whether another company has a member
    // with this address must not change the answer.
    let taken = member::Entity::find()
        .filter(member::Column::CompanyId.eq(actor.company_id))
        .filter(member::Column::Email.eq(email.clone()))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(format!(
            "{email} is already a member of your company"
        )));
    }
    let (password, generated) = chosen_or_generated(f.password)?;
    let t = now();
    let am = member::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        team_id: Set(f.team_id),
        email: Set(email),
        name: Set(validate::text("name", &f.name, 200)?),
        role: Set(f.role),
        password_hash: Set(hash(password).await?),
        active: Set(true),
        token_version: Set(0),
        created_at: Set(t),
        updated_at: Set(t),
    };
    Ok((insert_audited(db, actor, am).await?, generated))
}

/// Changes to a member.
#[derive(Clone, Default)]
pub struct MemberPatch {
    /// Display name.
    pub name: Option<String>,
    /// Role (a role change signs the member out).
    pub role: Option<Role>,
    /// Team (`Some(None)` leaves every team).
    pub team_id: Option<Option<Uuid>>,
}

/// Changes a member's name, role or team.
pub async fn update(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, p: MemberPatch) -> AppResult<member::Model> {
    actor.require_admin("change members")?;
    let before = find_member(db, actor, id).await?;
    let mut am = before.clone().into_active_model();
    if let Some(name) = p.name {
        am.name = Set(validate::text("name", &name, 200)?);
    }
    if let Some(role) = p.role
        && role != before.role
    {
        if before.id == actor.member_id {
            return Err(AppError::bad("you cannot change your own role; ask another admin"));
        }
        am.role = Set(role);
        // Tokens carry no role, but a role change should be felt at once everywhere.
        am.token_version = Set(before.token_version + 1);
    }
    if let Some(team) = p.team_id {
        check_team(db, actor, team).await?;
        am.team_id = Set(team);
    }
    am.updated_at = Set(now());
    update_audited(db, actor, &before, am).await
}

/// Deactivates (signs out everywhere, refuses logins) or reactivates a member.
pub async fn set_active(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, active: bool) -> AppResult<member::Model> {
    actor.require_admin("deactivate or reactivate members")?;
    let before = find_member(db, actor, id).await?;
    if before.id == actor.member_id && !active {
        return Err(AppError::bad("you cannot deactivate yourself; ask another admin"));
    }
    let mut am = before.clone().into_active_model();
    am.active = Set(active);
    am.token_version = Set(before.token_version + 1);
    am.updated_at = Set(now());
    update_audited(db, actor, &before, am).await
}

/// Sets a new password for a member (generated when absent) and signs them out everywhere.
pub async fn reset_password(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    password: Option<String>,
) -> AppResult<(member::Model, Option<String>)> {
    actor.require_admin("reset passwords")?;
    let before = find_member(db, actor, id).await?;
    let (password, generated) = chosen_or_generated(password)?;
    let mut am = before.clone().into_active_model();
    am.password_hash = Set(hash(password).await?);
    am.token_version = Set(before.token_version + 1);
    am.updated_at = Set(now());
    Ok((update_audited(db, actor, &before, am).await?, generated))
}

/// Checks the caller's current password before a change, counting a wrong
/// one as a failed login (same limits, per e-mail and client): outside the
/// change's transaction, so that the count survives the refusal.
pub async fn check_own_password(
    db: &impl ConnectionTrait,
    actor: &Actor,
    limits: &crate::config::AuthConfig,
    client: &super::auth::Client,
    current: &str,
) -> AppResult<()> {
    if actor.api_key.is_some() {
        return Err(AppError::Forbidden("an API key has no password".into()));
    }
    let me = find_member(db, actor, actor.member_id).await?;
    super::auth::throttle(db, limits, &me.email, client).await?;
    let (current, hash_now) = (current.to_owned(), me.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_password(&current, &hash_now))
        .await
        .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    if !ok {
        super::auth::record_failure(db, limits, &me.email, client).await?;
        return Err(AppError::Forbidden("the current password is wrong".into()));
    }
    Ok(())
}

/// Changes the caller's own password (the current one is required); other sessions end.
pub async fn change_own_password(
    db: &impl ConnectionTrait,
    actor: &Actor,
    current: &str,
    new: &str,
) -> AppResult<member::Model> {
    if actor.api_key.is_some() {
        return Err(AppError::Forbidden("an API key has no password".into()));
    }
    let before = find_member(db, actor, actor.member_id).await?;
    let hash_now = before.password_hash.clone();
    let current = current.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&current, &hash_now))
        .await
        .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    if !ok {
        return Err(AppError::Forbidden("the current password is wrong".into()));
    }
    check_password(new)?;
    let mut am = before.clone().into_active_model();
    am.password_hash = Set(hash(new.to_owned()).await?);
    am.token_version = Set(before.token_version + 1);
    am.updated_at = Set(now());
    let after = am.update(db).await?;
    super::audit::record(
        db,
        actor,
        "change_password",
        &("member", after.id),
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}
