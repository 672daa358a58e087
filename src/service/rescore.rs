//! Background re-scoring: after a company's scoring script changes, every
//! stored energy score is brought to the new version, in batches, off the
//! request path, with progress kept in `rescore_job`.

use std::{collections::HashMap, sync::Arc};

use chrono::Duration;
use entity::{activity, activity_contact, activity_reaction, contact, enums::ActivityStatus, rescore_job};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement, sea_query::Expr,
};
use uuid::Uuid;

use super::{new_id, now};
use crate::{
    error::{AppError, AppResult},
    plugins::{PluginSet, activity_input, run},
};

/// Activities re-scored per batch (one read of inputs, one UPDATE).
const BATCH: u64 = 1_000;

/// Done, live activities of the company whose score is missing or of another version.
fn stale(company_id: Uuid, version: &str) -> Condition {
    Condition::all()
        .add(activity::Column::CompanyId.eq(company_id))
        .add(activity::Column::Status.eq(ActivityStatus::Done))
        .add(activity::Column::DeletedAt.is_null())
        .add(
            Condition::any()
                .add(activity::Column::EnergyVersion.is_null())
                .add(activity::Column::EnergyVersion.ne(version)),
        )
}

/// Number of the company's activities not scored by `set`'s current version.
pub async fn stale_count(db: &impl ConnectionTrait, company_id: Uuid, set: &PluginSet) -> AppResult<u64> {
    Ok(activity::Entity::find()
        .filter(stale(company_id, &set.scoring_version))
        .count(db)
        .await?)
}

/// The company's latest re-score job.
pub async fn latest(db: &impl ConnectionTrait, company_id: Uuid) -> AppResult<Option<rescore_job::Model>> {
    Ok(rescore_job::Entity::find()
        .filter(rescore_job::Column::CompanyId.eq(company_id))
        .order_by_desc(rescore_job::Column::StartedAt)
        .one(db)
        .await?)
}

/// Starts re-scoring the company with `set` in the background, unless a live
/// job for the same version already runs (then returns it).
pub async fn start(db: &DatabaseConnection, company_id: Uuid, set: Arc<PluginSet>) -> AppResult<rescore_job::Model> {
    if let Some(job) = latest(db, company_id).await?
        && job.status == "running"
        && now() - job.updated_at < Duration::minutes(1)
    {
        if job.scoring_version == set.scoring_version {
            return Ok(job);
        }
        return Err(AppError::Conflict(
            "a re-score of another scoring version is running; wait for it to end".into(),
        ));
    }
    let t = now();
    let job = rescore_job::ActiveModel {
        id: Set(new_id()),
        company_id: Set(company_id),
        scoring_version: Set(set.scoring_version.clone()),
        status: Set("running".into()),
        total: Set(stale_count(db, company_id, &set).await? as i64),
        done: Set(0),
        error: Set(None),
        started_at: Set(t),
        updated_at: Set(t),
        finished_at: Set(None),
    }
    .insert(db)
    .await?;
    let (db, id) = (db.clone(), job.id);
    tokio::spawn(async move {
        if let Err(e) = work(&db, id, company_id, &set).await {
            tracing::error!(job = %id, error = %e.message(), "re-score failed");
            let _ = finish(&db, id, "failed", Some(e.message())).await;
        }
    });
    Ok(job)
}

async fn finish(db: &impl ConnectionTrait, id: Uuid, status: &str, error: Option<String>) -> AppResult<()> {
    rescore_job::Entity::update_many()
        .col_expr(rescore_job::Column::Status, Expr::value(status))
        .col_expr(rescore_job::Column::Error, Expr::value(error))
        .col_expr(rescore_job::Column::FinishedAt, Expr::value(now()))
        .col_expr(rescore_job::Column::UpdatedAt, Expr::value(now()))
        .filter(rescore_job::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Re-scores batch after batch until nothing is stale.
async fn work(db: &DatabaseConnection, job: Uuid, company_id: Uuid, set: &Arc<PluginSet>) -> AppResult<()> {
    let mut after = None;
    loop {
        let (n, last) = batch(db, company_id, set, after).await?;
        if n == 0 {
            return finish(db, job, "done", None).await;
        }
        after = last;
        let mut progress = rescore_job::Entity::find_by_id(job)
            .one(db)
            .await?
            .ok_or(AppError::NotFound("Job"))?
            .into_active_model();
        progress.done = Set(progress.done.as_ref() + n as i64);
        progress.updated_at = Set(now());
        progress.update(db).await?;
    }
}

/// Re-scores the next batch after the id `after` (keyset: every batch reads
/// on from the last one, never rescanning the table); returns how many it
/// scored and the last id.
pub async fn batch(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    set: &Arc<PluginSet>,
    after: Option<Uuid>,
) -> AppResult<(u64, Option<Uuid>)> {
    let mut query = activity::Entity::find()
        .select_only()
        .columns([
            activity::Column::Id,
            activity::Column::Kind,
            activity::Column::AttendeeCount,
            activity::Column::DurationMinutes,
        ])
        .filter(stale(company_id, &set.scoring_version));
    if let Some(after) = after {
        query = query.filter(activity::Column::Id.gt(after));
    }
    let rows: Vec<(Uuid, String, i32, Option<i32>)> = query
        .order_by_asc(activity::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await?;
    let Some(last) = rows.last().map(|r| r.0) else {
        return Ok((0, None));
    };
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let mut reactions: HashMap<Uuid, Vec<String>> = HashMap::new();
    let found: Vec<(Uuid, String)> = activity_reaction::Entity::find()
        .select_only()
        .columns([
            activity_reaction::Column::ActivityId,
            activity_reaction::Column::Reaction,
        ])
        .filter(activity_reaction::Column::ActivityId.is_in(ids.clone()))
        .into_tuple()
        .all(db)
        .await?;
    for (a, r) in found {
        reactions.entry(a).or_default().push(r);
    }
    let links: Vec<(Uuid, Uuid)> = activity_contact::Entity::find()
        .select_only()
        .columns([
            activity_contact::Column::ActivityId,
            activity_contact::Column::ContactId,
        ])
        .filter(activity_contact::Column::ActivityId.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    let contact_ids: Vec<Uuid> = links.iter().map(|l| l.1).collect();
    let levels: HashMap<Uuid, (String, Option<String>)> = contact::Entity::find()
        .select_only()
        .columns([contact::Column::Id, contact::Column::Level, contact::Column::Department])
        .filter(contact::Column::Id.is_in(contact_ids))
        .into_tuple::<(Uuid, String, Option<String>)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, level, department)| (id, (level, department)))
        .collect();
    let mut contacts: HashMap<Uuid, Vec<(String, Option<String>)>> = HashMap::new();
    for (a, c) in links {
        if let Some(info) = levels.get(&c) {
            contacts.entry(a).or_default().push(info.clone());
        }
    }
    let scorer = set.clone();
    let scored: Vec<(Uuid, i32)> = run(move || {
        rows.iter()
            .map(|(id, kind, attendees, minutes)| {
                let input = activity_input(
                    kind,
                    *attendees,
                    *minutes,
                    reactions.get(id).map(Vec::as_slice).unwrap_or(&[]),
                    contacts.get(id).map(Vec::as_slice).unwrap_or(&[]),
                );
                scorer.activity_points(input).map(|p| (*id, p))
            })
            .collect()
    })
    .await?;
    write_scores(db, &scored, &set.scoring_version).await?;
    Ok((scored.len() as u64, Some(last)))
}

/// Writes a batch of scores in one statement: an UPDATE joined to a VALUES
/// list, a form SQLite (3.33+) and PostgreSQL both accept.
async fn write_scores(db: &impl ConnectionTrait, scored: &[(Uuid, i32)], version: &str) -> AppResult<()> {
    let backend = db.get_database_backend();
    let mut n = 0;
    let mut param = || {
        n += 1;
        if backend == DbBackend::Postgres {
            format!("${n}")
        } else {
            "?".to_owned()
        }
    };
    let version_param = param();
    let rows: Vec<String> = scored.iter().map(|_| format!("({}, {})", param(), param())).collect();
    let sql = format!(
        "UPDATE activity SET energy_points = v.p, energy_version = {version_param} \
         FROM (SELECT column1 AS id, column2 AS p FROM (VALUES {}) AS vals) AS v \
         WHERE activity.id = v.id",
        rows.join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![version.into()];
    for (id, points) in scored {
        values.push((*id).into());
        values.push((*points).into());
    }
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}
