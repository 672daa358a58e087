//! Background re-scoring: after a company's scoring script changes, every
//! stored energy score is brought to the new version, in batches, off the
//! request path, with progress kept in `rescore_job`.

use std::{collections::HashMap, sync::Arc};

use chrono::Duration;
use entity::{activity, activity_contact, activity_reaction, company, contact, enums::ActivityStatus, rescore_job};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement, sea_query::Expr,
};
use uuid::Uuid;

use super::{new_id, now};
use crate::{
    error::{AppError, AppResult},
    plugins::{PluginSet, Plugins, activity_input, run},
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

/// Starts a re-score for every company that follows one of the shipped sets `names`
/// (after a reload changed their scoring scripts).
pub async fn start_for_sets(db: &DatabaseConnection, plugins: &Plugins, names: &[String]) -> AppResult<()> {
    if names.is_empty() {
        return Ok(());
    }
    let companies: Vec<(Uuid, Option<String>)> = company::Entity::find()
        .select_only()
        .columns([company::Column::Id, company::Column::PluginSet])
        // A stored process does not change with the files.
        .filter(company::Column::ProcessVersion.is_null())
        .into_tuple()
        .all(db)
        .await?;
    for (id, plugin_set) in companies {
        let set = plugins.for_company(plugin_set.as_deref());
        if names.contains(&set.name) {
            start(db, id, set).await?;
        }
    }
    Ok(())
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

/// What scoring reads of one stored activity.
pub struct ScoringInput {
    /// The activity.
    pub id: Uuid,
    /// Its customer.
    pub customer_id: Uuid,
    /// The score stored now.
    pub stored: Option<i32>,
    kind: String,
    attendees: i32,
    minutes: Option<i32>,
    reactions: Vec<String>,
    contacts: Vec<(String, Option<String>)>,
}

impl ScoringInput {
    /// The activity's kind, attendees and reactions (what the script reads, with the contacts).
    pub fn parts(&self) -> (&str, i32, &[String]) {
        (&self.kind, self.attendees, &self.reactions)
    }

    /// The (level, department) of the contacts met.
    pub fn contacts(&self) -> &[(String, Option<String>)] {
        &self.contacts
    }

    /// Scores the activity with `set`.
    pub fn score(&self, set: &PluginSet) -> AppResult<i32> {
        set.activity_points(activity_input(
            &self.kind,
            self.attendees,
            self.minutes,
            &self.reactions,
            &self.contacts,
        ))
    }
}

/// An activity's columns scoring reads: id, customer, stored score, kind, attendees, minutes.
type InputRow = (Uuid, Uuid, Option<i32>, String, i32, Option<i32>);

/// Reads the scoring inputs of the next (at most [`BATCH`]) activities
/// matching `filter` after the id `after`, in id order (keyset: every batch
/// reads on from the last one, never rescanning the table). Four statements
/// per batch: the activities, their reactions, their contacts, the contacts' levels.
pub async fn load_inputs(
    db: &impl ConnectionTrait,
    filter: Condition,
    after: Option<Uuid>,
) -> AppResult<Vec<ScoringInput>> {
    let mut query = activity::Entity::find()
        .select_only()
        .columns([
            activity::Column::Id,
            activity::Column::CustomerId,
            activity::Column::EnergyPoints,
            activity::Column::Kind,
            activity::Column::AttendeeCount,
            activity::Column::DurationMinutes,
        ])
        .filter(filter);
    if let Some(after) = after {
        query = query.filter(activity::Column::Id.gt(after));
    }
    let rows: Vec<InputRow> = query
        .order_by_asc(activity::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
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
    Ok(rows
        .into_iter()
        .map(|(id, customer_id, stored, kind, attendees, minutes)| ScoringInput {
            id,
            customer_id,
            stored,
            kind,
            attendees,
            minutes,
            reactions: reactions.remove(&id).unwrap_or_default(),
            contacts: contacts.remove(&id).unwrap_or_default(),
        })
        .collect())
}

/// Re-scores the next batch of stale activities after the id `after`;
/// returns how many it scored and the last id.
pub async fn batch(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    set: &Arc<PluginSet>,
    after: Option<Uuid>,
) -> AppResult<(u64, Option<Uuid>)> {
    let inputs = load_inputs(db, stale(company_id, &set.scoring_version), after).await?;
    let Some(last) = inputs.last().map(|i| i.id) else {
        return Ok((0, None));
    };
    let scorer = set.clone();
    let scored: Vec<(Uuid, i32)> = run(&crate::plugins::ScriptBudget::unbounded(), move || {
        inputs
            .iter()
            .map(|input| input.score(&scorer).map(|p| (input.id, p)))
            .collect()
    })
    .await?;
    write_scores(db, &scored, &set.scoring_version).await?;
    Ok((scored.len() as u64, Some(last)))
}

/// What a scoring script would do to the stored scores, written nowhere.
#[derive(Debug, Default)]
pub struct DryRun {
    /// Done activities scored.
    pub activities: u64,
    /// Activities whose score would change.
    pub changed: u64,
    /// Activities the script failed on (kept at 0 points in the totals).
    pub failed: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// Sum of the stored scores.
    pub total_before: i64,
    /// Sum of the scores the script gives.
    pub total_after: i64,
    /// The customers with the most points after, best first:
    /// `(customer, before, after, rank before, rank after)`, ranks from 1.
    pub top: Vec<(Uuid, i64, i64, usize, usize)>,
}

/// Scores the company's activities done since `since` with `candidate`, in
/// batches like a re-score, and compares the result with the stored scores
/// per customer. Nothing is written.
pub async fn dry_run(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    candidate: Arc<PluginSet>,
    since: chrono::DateTime<chrono::Utc>,
    top: usize,
    budget: &Arc<crate::plugins::ScriptBudget>,
) -> AppResult<DryRun> {
    let filter = Condition::all()
        .add(activity::Column::CompanyId.eq(company_id))
        .add(activity::Column::Status.eq(ActivityStatus::Done))
        .add(activity::Column::DeletedAt.is_null())
        .add(activity::Column::DoneAt.gte(since));
    let mut out = DryRun::default();
    let mut customers: HashMap<Uuid, (i64, i64)> = HashMap::new();
    let mut after = None;
    loop {
        let inputs = load_inputs(db, filter.clone(), after).await?;
        let Some(last) = inputs.last().map(|i| i.id) else {
            break;
        };
        after = Some(last);
        let scorer = candidate.clone();
        let scored = run(budget, move || {
            let scores: Vec<AppResult<i32>> = inputs.iter().map(|i| i.score(&scorer)).collect();
            Ok((inputs, scores))
        })
        .await?;
        for (input, score) in scored.0.iter().zip(scored.1) {
            let before = i64::from(input.stored.unwrap_or(0));
            let after = match score {
                Ok(points) => i64::from(points),
                Err(e) => {
                    out.failed += 1;
                    out.first_error.get_or_insert_with(|| e.message());
                    0
                }
            };
            out.activities += 1;
            out.changed += u64::from(input.stored != Some(after as i32));
            out.total_before += before;
            out.total_after += after;
            let c = customers.entry(input.customer_id).or_default();
            c.0 += before;
            c.1 += after;
        }
    }
    let rank = |key: fn(&(i64, i64)) -> i64| -> HashMap<Uuid, usize> {
        let mut ids: Vec<(&Uuid, &(i64, i64))> = customers.iter().collect();
        ids.sort_by(|a, b| key(b.1).cmp(&key(a.1)).then(a.0.cmp(b.0)));
        ids.into_iter().enumerate().map(|(i, (id, _))| (*id, i + 1)).collect()
    };
    let (by_before, by_after) = (rank(|c| c.0), rank(|c| c.1));
    let mut best: Vec<(Uuid, usize)> = by_after.iter().map(|(id, r)| (*id, *r)).collect();
    best.sort_by_key(|(_, r)| *r);
    out.top = best
        .into_iter()
        .take(top)
        .map(|(id, r)| {
            let (before, after) = customers[&id];
            (id, before, after, by_before[&id], r)
        })
        .collect();
    Ok(out)
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
