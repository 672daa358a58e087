//! Business rules, one module per domain. Services take `&impl
//! ConnectionTrait`, so the same code runs inside a mutation's transaction or
//! on the pool, and never see GraphQL types.

pub mod access;
pub mod activity;
pub mod aggregate;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod comment;
pub mod company;
pub mod customer;
pub mod deal;
pub mod energy;
pub mod forecast;
pub mod import;
pub mod insight;
pub mod kpi;
pub mod members;
pub mod notify;
pub mod period;
pub mod pipeline;
pub mod plan;
pub mod process;
pub mod qa;
pub mod rescore;
pub mod sql;
pub mod task;
pub mod validate;
pub mod webhook;
pub mod webhook_target;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{enums::Role, member};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
    TryIntoModel, Value, sea_query::Expr,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    pagination::Scoped,
};

/// Who is asking: the member behind the request's token.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The member.
    pub member_id: Uuid,
    /// The member's company: every query and write is confined to it.
    pub company_id: Uuid,
    /// The member's role.
    pub role: Role,
    /// The member's team.
    pub team_id: Option<Uuid>,
    /// Set when the request came with an API key: its id and scope. The key
    /// acts as the admin who created it; the audit log names the key.
    pub api_key: Option<(Uuid, access::ApiKeyScope)>,
    /// Teams and members the actor answers for, computed once per request.
    pub reach: std::sync::Arc<access::Reach>,
    /// The company's compiled plugin set (its sales process and scoring).
    pub plugins: std::sync::Arc<crate::plugins::PluginSet>,
    /// The company's time zone: what "today" and "this month" are.
    pub time_zone: chrono_tz::Tz,
    /// Live events this request's writes queued, sent after commit.
    pub outbox: crate::events::Outbox,
    /// What this request's script calls may still use (see
    /// [`crate::plugins::ScriptBudget`]); unbounded outside requests.
    pub scripts: std::sync::Arc<crate::plugins::ScriptBudget>,
    /// The sign-in session of the request's token (`None` for API keys and
    /// background work).
    pub session_id: Option<Uuid>,
}

/// The current time, at the microsecond precision both databases store.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A new time-ordered id.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// A scoped entity whose rows are soft-deleted.
pub trait SoftDelete: Scoped {
    /// The `deleted_at` column.
    fn deleted_col() -> Self::Column;
}

/// A scoped entity updated under optimistic concurrency.
pub trait Versioned: Scoped {
    /// The `version` column.
    fn version_col() -> Self::Column;
    /// The `updated_at` column.
    fn updated_col() -> Self::Column;
    /// The version of a row.
    fn version_of(model: &Self::Model) -> i32;
}

macro_rules! scoped {
    ($($module:ident => $name:literal $(, $trait:ident)*;)+) => {$(
        impl Scoped for entity::$module::Entity {
            const NAME: &'static str = $name;
            fn id_col() -> Self::Column { entity::$module::Column::Id }
            fn company_col() -> Self::Column { entity::$module::Column::CompanyId }
            fn id_of(model: &Self::Model) -> Uuid { model.id }
        }
        $(scoped!(@$trait $module);)*
    )+};
    (@soft $module:ident) => {
        impl SoftDelete for entity::$module::Entity {
            fn deleted_col() -> Self::Column { entity::$module::Column::DeletedAt }
        }
    };
    (@versioned $module:ident) => {
        impl Versioned for entity::$module::Entity {
            fn version_col() -> Self::Column { entity::$module::Column::Version }
            fn updated_col() -> Self::Column { entity::$module::Column::UpdatedAt }
            fn version_of(model: &Self::Model) -> i32 { model.version }
        }
    };
}

scoped! {
    team => "Team", soft;
    member => "Member";
    customer_group => "Customer group", soft;
    customer => "Customer", soft, versioned;
    contact => "Contact", soft, versioned;
    product => "Product", soft;
    deal => "Deal", soft, versioned;
    deal_stage_history => "Stage change";
    daily_report => "Daily report", versioned;
    activity => "Activity", soft, versioned;
    quote => "Quote", soft, versioned;
    task => "Task", soft, versioned;
    sales_record => "Sales record";
    target => "Target";
    touchpoint => "Touchpoint";
    comment => "Comment", soft;
    audit_log => "Audit entry";
    api_key => "API key";
    notification => "Notification";
    webhook => "Webhook", soft;
    question => "Question", soft;
    answer => "Answer", soft;
    webhook_delivery => "Webhook delivery";
}

/// The company's row `id`, not deleted; a foreign or unknown id is NOT_FOUND.
pub async fn find_live<E: SoftDelete>(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<E::Model> {
    E::find()
        .filter(E::company_col().eq(actor.company_id))
        .filter(E::id_col().eq(id))
        .filter(E::deleted_col().is_null())
        .one(db)
        .await?
        .ok_or(AppError::NotFound(E::NAME))
}

/// The company's row `id` (for entities without soft delete).
pub async fn find_scoped<E: Scoped>(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<E::Model> {
    E::find()
        .filter(E::company_col().eq(actor.company_id))
        .filter(E::id_col().eq(id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound(E::NAME))
}

/// Inserts a row and records it in the audit log.
pub async fn insert_audited<A>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    am: A,
) -> AppResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    A::Entity: Scoped,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Serialize,
{
    let model = am.insert(db).await?;
    audit::record(db, actor, "create", &model_id::<A::Entity>(&model), None, Some(&model)).await?;
    Ok(model)
}

/// Writes the changes in `am` (built from `before`) to a row without a
/// version column and records them in the audit log.
pub async fn update_audited<A>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    before: &<A::Entity as EntityTrait>::Model,
    am: A,
) -> AppResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    A::Entity: Scoped,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Serialize,
{
    let after = am.update(db).await?;
    let target = (table_name::<A::Entity>(), A::Entity::id_of(before));
    audit::record(db, actor, "update", &target, Some(before), Some(&after)).await?;
    Ok(after)
}

fn model_id<E: Scoped>(m: &E::Model) -> (&'static str, Uuid) {
    (table_name::<E>(), E::id_of(m))
}

/// The SQL table of an entity.
pub fn table_name<E: EntityTrait>() -> &'static str {
    E::default().table_name()
}

/// Applies the changes in `am` (built from `before`) if the row is still at
/// `expected` version; bumps the version, sets `updated_at`, writes the
/// audit row. A stale version is CONFLICT and changes nothing.
pub async fn update_versioned<E, A>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    before: &E::Model,
    expected: i32,
    mut am: A,
) -> AppResult<E::Model>
where
    E: Versioned,
    A: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model> + Send,
    E::Model: IntoActiveModel<A> + Serialize,
{
    expect_version::<E>(before, expected)?;
    am.set(E::version_col(), Value::Int(Some(expected + 1)));
    am.set(E::updated_col(), Value::ChronoDateTimeUtc(Some(now())));
    let id = E::id_of(before);
    let result = E::update_many()
        .set(am.clone())
        .filter(E::id_col().eq(id))
        .filter(E::company_col().eq(actor.company_id))
        .filter(E::version_col().eq(expected))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(stale::<E>(expected, expected + 1));
    }
    let after = am.try_into_model()?;
    audit::record(db, actor, action, &(table_name::<E>(), id), Some(before), Some(&after)).await?;
    Ok(after)
}

/// CONFLICT unless the caller edited the version that is stored. Checked
/// before any rule about the record's state, so that a caller who read an
/// old version is told to reload, not judged on a state they never saw.
pub fn expect_version<E: Versioned>(before: &E::Model, expected: i32) -> AppResult<()> {
    let current = E::version_of(before);
    if current != expected {
        return Err(stale::<E>(expected, current));
    }
    Ok(())
}

fn stale<E: Scoped>(expected: i32, current: i32) -> AppError {
    AppError::Conflict(format!(
        "{} was changed by someone else (you edited version {expected}, it is now at {current} or later); reload it and apply your change again",
        E::NAME
    ))
}

/// Soft-deletes a versioned row (same concurrency rule as updates).
pub async fn delete_versioned<E, A>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    before: &E::Model,
    expected: i32,
) -> AppResult<E::Model>
where
    E: Versioned + SoftDelete,
    A: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model> + Send,
    E::Model: IntoActiveModel<A> + Serialize,
{
    let mut am: A = before.clone().into_active_model();
    am.set(E::deleted_col(), Value::ChronoDateTimeUtc(Some(now())));
    update_versioned(db, actor, "delete", before, expected, am).await
}

/// Soft-deletes an unversioned row.
pub async fn delete_soft<E: SoftDelete>(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<()>
where
    E::Model: Serialize,
{
    let result = E::update_many()
        .col_expr(E::deleted_col(), Expr::val(now()))
        .filter(E::id_col().eq(id))
        .filter(E::company_col().eq(actor.company_id))
        .filter(E::deleted_col().is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::NotFound(E::NAME));
    }
    audit::record::<E::Model>(db, actor, "delete", &(table_name::<E>(), id), None, None).await
}

/// Checks that every id names a live row of `E` in the caller's company.
pub async fn ensure_all<E: SoftDelete>(db: &impl ConnectionTrait, actor: &Actor, ids: &[Uuid]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found = E::find()
        .filter(E::company_col().eq(actor.company_id))
        .filter(E::id_col().is_in(ids.to_vec()))
        .filter(E::deleted_col().is_null())
        .select_only()
        .column(E::id_col())
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    if found.len() != distinct.len() {
        return Err(AppError::NotFound(E::NAME));
    }
    Ok(())
}

/// The member `id` of the caller's company, active or not.
pub async fn find_member(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<member::Model> {
    find_scoped::<member::Entity>(db, actor, id).await
}
