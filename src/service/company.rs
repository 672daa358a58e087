//! Companies as the operator sees them: creating one with its first admin,
//! listing them, disabling and enabling, deleting one with everything it
//! holds, and setting a locked-out member's password.
//!
//! These run outside any company (the `sfa company` commands and the
//! operator API), so they take no [`super::Actor`]. What they change is
//! written to the server log under the `sfa::operator` target, and, while
//! the company exists, to its audit log with no member as the actor.

use chrono::{DateTime, Utc};
use entity::{company, enums::Role, member};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use serde_json::json;
use uuid::Uuid;

use super::{members, new_id, now, validate};
use crate::{
    error::{AppError, AppResult},
    plugins::Plugins,
};

/// Every table holding a company's rows, children before the rows they
/// point at, so that deleting in this order never breaks a foreign key.
/// A test checks it against the database catalog.
pub const TENANT_TABLES: &[&str] = &[
    "webhook_delivery",
    "webhook",
    "notification_mute",
    "notification",
    "follow",
    "answer",
    "question",
    "rescore_job",
    "process_version",
    "forecast_snapshot",
    "deal_quality",
    "login_session",
    "api_key",
    "audit_log",
    "comment",
    "touchpoint",
    "target",
    "sales_record",
    "task",
    "quote",
    "activity_reaction",
    "activity_product",
    "activity_contact",
    "activity",
    "daily_report",
    "deal_stage_history",
    "deal_member",
    "deal",
    "product",
    "contact",
    "customer",
    "customer_group",
    "member",
    "team",
];

/// Time zone of a company created without one.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Tokyo";
/// Currency of a company created without one.
pub const DEFAULT_CURRENCY: &str = "JPY";

/// A company to create, with its first admin.
#[derive(Debug, Clone, Default)]
pub struct NewCompany {
    /// Display name.
    pub name: String,
    /// Short handle members log in with: lower-case letters, digits and `-`.
    pub slug: String,
    /// The first admin's e-mail.
    pub admin_email: String,
    /// The first admin's name (default: the e-mail's local part).
    pub admin_name: Option<String>,
    /// IANA time zone (default [`DEFAULT_TIME_ZONE`]).
    pub time_zone: Option<String>,
    /// ISO 4217 currency (default [`DEFAULT_CURRENCY`]).
    pub currency: Option<String>,
    /// A plugin set of `plugins/` (default: `default`).
    pub process: Option<String>,
    /// The admin's password; generated (and returned once) when absent.
    pub password: Option<String>,
}

/// A created company.
#[derive(Debug)]
pub struct Created {
    /// The company.
    pub company: company::Model,
    /// Its first admin.
    pub admin: member::Model,
    /// The admin's one-time password, when it was generated.
    pub password: Option<String>,
}

/// A company in the operator's list.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The company.
    pub company: company::Model,
    /// Its members, active or not.
    pub members: i64,
    /// Its active members.
    pub active_members: i64,
}

/// Checks a slug: 2 to 63 characters, lower-case ASCII letters, digits and
/// `-`, starting with a letter or digit and not ending with `-`.
pub fn slug(value: &str) -> AppResult<String> {
    let s = value.trim().to_lowercase();
    let valid = (2..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if !valid {
        return Err(AppError::bad(format!(
            "the slug {value:?} is not valid: 2 to 63 lower-case letters, digits and '-', not starting or ending with '-'"
        )));
    }
    Ok(s)
}

fn time_zone(value: Option<&str>) -> AppResult<String> {
    let value = value.map(str::trim).unwrap_or(DEFAULT_TIME_ZONE);
    value
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            AppError::bad(format!(
                "{value:?} is not an IANA time zone (such as Asia/Tokyo or Europe/Berlin)"
            ))
        })
}

fn currency(value: Option<&str>) -> AppResult<String> {
    let value = value.map(str::trim).unwrap_or(DEFAULT_CURRENCY);
    if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(AppError::bad(format!(
            "{value:?} is not an ISO 4217 currency code (three letters, such as JPY or EUR)"
        )));
    }
    Ok(value.to_ascii_uppercase())
}

fn process(plugins: &Plugins, value: Option<&str>) -> AppResult<Option<String>> {
    let Some(name) = value.map(str::trim) else {
        return Ok(None);
    };
    let names = plugins.names();
    if !names.iter().any(|n| n == name) {
        return Err(AppError::bad(format!(
            "there is no plugin set {name:?}; the server has {}",
            names.join(", ")
        )));
    }
    Ok(Some(name.to_owned()))
}

/// An audit row of the operator's (no member did it).
async fn audit(db: &impl ConnectionTrait, company_id: Uuid, action: &str, changes: serde_json::Value) -> AppResult<()> {
    entity::audit_log::ActiveModel {
        id: Set(new_id()),
        company_id: Set(company_id),
        actor_member_id: Set(None),
        actor_api_key_id: Set(None),
        action: Set(action.to_owned()),
        entity_type: Set("company".into()),
        entity_id: Set(company_id),
        changes: Set(changes),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Creates a company and its first admin in one transaction. A slug that
/// is taken is CONFLICT.
pub async fn create(db: &DatabaseConnection, plugins: &Plugins, new: NewCompany) -> AppResult<Created> {
    let name = validate::text("name", &new.name, 200)?;
    let slug = slug(&new.slug)?;
    let email = members::email(&new.admin_email)?;
    let admin_name = match new.admin_name.as_deref() {
        Some(n) => validate::text("admin name", n, 200)?,
        None => email.split('@').next().unwrap_or_default().to_owned(),
    };
    let time_zone = time_zone(new.time_zone.as_deref())?;
    let currency = currency(new.currency.as_deref())?;
    let plugin_set = process(plugins, new.process.as_deref())?;
    let (password, generated) = members::chosen_or_generated(new.password)?;
    let password_hash = members::hash(password).await?;
    let txn = crate::db::begin_write(db).await?;
    let taken = company::Entity::find()
        .filter(company::Column::Slug.eq(slug.clone()))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict(format!(
            "a company with the slug `{slug}` already exists"
        )));
    }
    let t = now();
    let company = company::ActiveModel {
        id: Set(new_id()),
        name: Set(name),
        slug: Set(slug),
        plugin_set: Set(plugin_set),
        currency: Set(currency),
        time_zone: Set(time_zone),
        settings: Set(json!({})),
        created_at: Set(t),
        updated_at: Set(t),
        disabled_at: Set(None),
        process_version: Set(None),
    }
    .insert(&txn)
    .await?;
    let admin = member::ActiveModel {
        id: Set(new_id()),
        company_id: Set(company.id),
        team_id: Set(None),
        email: Set(email),
        name: Set(admin_name),
        role: Set(Role::Admin),
        password_hash: Set(password_hash),
        active: Set(true),
        token_version: Set(0),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(&txn)
    .await?;
    audit(
        &txn,
        company.id,
        "create",
        json!({"slug": [null, company.slug], "admin": [null, admin.email]}),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(target: "sfa::operator", company = %company.slug, id = %company.id, admin = %admin.email, "company created");
    Ok(Created {
        company,
        admin,
        password: generated,
    })
}

/// Every company (or the one with `slug`), oldest first, with its member counts.
pub async fn list(db: &impl ConnectionTrait, slug: Option<&str>) -> AppResult<Vec<Summary>> {
    let mut query = company::Entity::find().order_by_asc(company::Column::CreatedAt);
    if let Some(slug) = slug {
        query = query.filter(company::Column::Slug.eq(slug.trim().to_lowercase()));
    }
    let companies = query.all(db).await?;
    let mut counts = member::Entity::find()
        .select_only()
        .column(member::Column::CompanyId)
        .column(member::Column::Active)
        .column_as(member::Column::Id.count(), "n")
        .group_by(member::Column::CompanyId)
        .group_by(member::Column::Active);
    if slug.is_some() {
        counts = counts.filter(member::Column::CompanyId.is_in(companies.iter().map(|c| c.id)));
    }
    let counts: Vec<(Uuid, bool, i64)> = counts.into_tuple().all(db).await?;
    Ok(companies
        .into_iter()
        .map(|company| {
            let of = |active: bool| {
                counts
                    .iter()
                    .filter(|(c, a, _)| *c == company.id && *a == active)
                    .map(|(_, _, n)| n)
                    .sum::<i64>()
            };
            let active_members = of(true);
            Summary {
                members: active_members + of(false),
                active_members,
                company,
            }
        })
        .collect())
}

/// The company with this slug, or NOT_FOUND.
pub async fn by_slug(db: &impl ConnectionTrait, value: &str) -> AppResult<company::Model> {
    company::Entity::find()
        .filter(company::Column::Slug.eq(value.trim().to_lowercase()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound("Company"))
}

/// Disables (`true`) or enables a company. While disabled its members cannot
/// log in and their tokens and API keys are refused with COMPANY_DISABLED;
/// nothing is deleted. Doing it twice is harmless.
pub async fn set_disabled(db: &DatabaseConnection, slug: &str, disabled: bool) -> AppResult<company::Model> {
    let txn = crate::db::begin_write(db).await?;
    let before = by_slug(&txn, slug).await?;
    if before.disabled_at.is_some() == disabled {
        return Ok(before);
    }
    let mut am = before.clone().into_active_model();
    let at = disabled.then(now);
    am.disabled_at = Set(at);
    am.updated_at = Set(now());
    let after = am.update(&txn).await?;
    let action = if disabled { "disable" } else { "enable" };
    audit(&txn, after.id, action, json!({"disabled_at": [before.disabled_at, at]})).await?;
    txn.commit().await?;
    tracing::warn!(target: "sfa::operator", company = %after.slug, id = %after.id, "company {action}d");
    Ok(after)
}

/// What a deletion removed.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The company as it was.
    pub company: company::Model,
    /// Rows deleted, company row included.
    pub rows: u64,
}

/// Deletes a company and every row it holds in one transaction. `confirm`
/// must repeat the slug: a slip of the keyboard never deletes a company.
pub async fn delete(db: &DatabaseConnection, slug: &str, confirm: &str) -> AppResult<Deleted> {
    if slug.trim().to_lowercase() != confirm.trim().to_lowercase() {
        return Err(AppError::bad(format!(
            "to delete `{slug}` and everything it holds, confirm with its slug (--confirm {slug})"
        )));
    }
    let txn = crate::db::begin_write(db).await?;
    let company = by_slug(&txn, slug).await?;
    let backend = txn.get_database_backend();
    let mut rows = 0;
    for table in TENANT_TABLES {
        let sql = format!("DELETE FROM {table} WHERE company_id = $1");
        rows += txn
            .execute_raw(Statement::from_sql_and_values(backend, sql, [company.id.into()]))
            .await?
            .rows_affected();
    }
    rows += company::Entity::delete_by_id(company.id)
        .exec(&txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    tracing::warn!(target: "sfa::operator", company = %company.slug, id = %company.id, name = %company.name, rows, "company deleted with all its rows");
    Ok(Deleted { company, rows })
}

/// A member's new password.
#[derive(Debug)]
pub struct PasswordSet {
    /// The member.
    pub member: member::Model,
    /// The one-time password, when it was generated.
    pub password: Option<String>,
    /// When the member's sessions ended.
    pub at: DateTime<Utc>,
}

/// Sets the password of the member `email` of the company `slug` (generated
/// when absent), reactivates the member, forgets their failed logins and
/// ends their sessions: the way back in for a locked-out admin.
pub async fn set_password(
    db: &DatabaseConnection,
    slug: &str,
    email: &str,
    password: Option<String>,
) -> AppResult<PasswordSet> {
    let email = members::email(email)?;
    let (password, generated) = members::chosen_or_generated(password)?;
    let hash = members::hash(password).await?;
    let txn = crate::db::begin_write(db).await?;
    let company = by_slug(&txn, slug).await?;
    let before = member::Entity::find()
        .filter(member::Column::CompanyId.eq(company.id))
        .filter(member::Column::Email.eq(email.clone()))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::NotFound("Member"))?;
    let t = now();
    let mut am = before.clone().into_active_model();
    am.password_hash = Set(hash);
    am.active = Set(true);
    am.token_version = Set(before.token_version + 1);
    am.updated_at = Set(t);
    let member = am.update(&txn).await?;
    entity::login_failure::Entity::delete_many()
        .filter(entity::login_failure::Column::Email.eq(email))
        .exec(&txn)
        .await?;
    audit(
        &txn,
        company.id,
        "set_password",
        json!({"member": [null, member.email], "active": [before.active, true]}),
    )
    .await?;
    txn.commit().await?;
    tracing::warn!(target: "sfa::operator", company = %company.slug, member = %member.email, "password set by the operator; the member's sessions ended");
    Ok(PasswordSet {
        member,
        password: generated,
        at: t,
    })
}

/// Refuses the members of a disabled company.
pub fn ensure_enabled(company: &company::Model) -> AppResult<()> {
    if company.disabled_at.is_some() {
        return Err(AppError::Limited(
            "COMPANY_DISABLED",
            format!(
                "the company `{}` is disabled by the server's operator; nobody of it can sign in until it is enabled",
                company.slug
            ),
        ));
    }
    Ok(())
}
