//! Activities (planned, then done or cancelled) and daily reports.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    activity, activity_contact, activity_product, activity_reaction, contact, customer, daily_report, deal,
    enums::{ActivityKind, ActivityStatus},
    product,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, QueryTrait, Set,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{
    Actor, access, catalog::active_member, customer::Patch, delete_versioned, ensure_all, expect_version, find_live,
    find_scoped, insert_audited, new_id, now, sql::Params, update_versioned, validate,
};
use crate::error::{AppError, AppResult};

/// What was met, shown and observed during an activity.
#[derive(Default, Clone)]
pub struct Details {
    /// Contacts met (of the activity's customer).
    pub contact_ids: Vec<Uuid>,
    /// Products introduced.
    pub product_ids: Vec<Uuid>,
    /// Customer reaction keys.
    pub reactions: Vec<String>,
}

/// A new activity.
#[derive(Clone)]
pub struct NewActivity {
    /// Who does it (default: the caller).
    pub member_id: Option<Uuid>,
    /// Customer.
    pub customer_id: Uuid,
    /// Deal, if any (must be the customer's).
    pub deal_id: Option<Uuid>,
    /// Kind.
    pub kind: ActivityKind,
    /// PLANNED or DONE.
    pub status: ActivityStatus,
    /// Short title.
    pub subject: String,
    /// When it is (or was) planned.
    pub scheduled_at: DateTime<Utc>,
    /// When it happened (DONE only; default `scheduled_at`).
    pub done_at: Option<DateTime<Utc>>,
    /// Minutes.
    pub duration_minutes: Option<i32>,
    /// Customer-side attendees (default 1, or the number of contacts met).
    pub attendee_count: Option<i32>,
    /// What was discussed.
    pub notes: Option<String>,
    /// Result.
    pub outcome: Option<String>,
    /// Contacts, products, reactions.
    pub details: Details,
}

impl NewActivity {
    /// A planned activity of the caller with `customer_id`; set other fields as needed.
    pub fn planned(customer_id: Uuid, kind: ActivityKind, subject: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            member_id: None,
            customer_id,
            deal_id: None,
            kind,
            status: ActivityStatus::Planned,
            subject: subject.into(),
            scheduled_at: at,
            done_at: None,
            duration_minutes: None,
            attendee_count: None,
            notes: None,
            outcome: None,
            details: Details::default(),
        }
    }
}

/// Changes to an activity; omitted fields stay.
#[derive(Clone, Default)]
pub struct ActivityPatch {
    /// Kind.
    pub kind: Option<ActivityKind>,
    /// Title.
    pub subject: Option<String>,
    /// Planned time.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Time it happened (DONE activities only).
    pub done_at: Option<DateTime<Utc>>,
    /// Deal.
    pub deal_id: Patch<Uuid>,
    /// Minutes.
    pub duration_minutes: Patch<i32>,
    /// Attendees.
    pub attendee_count: Option<i32>,
    /// Notes.
    pub notes: Patch<String>,
    /// Result.
    pub outcome: Patch<String>,
    /// Replaces contacts met.
    pub contact_ids: Option<Vec<Uuid>>,
    /// Replaces products introduced.
    pub product_ids: Option<Vec<Uuid>>,
    /// Replaces reactions.
    pub reactions: Option<Vec<String>>,
}

/// How an activity is completed.
#[derive(Clone, Default)]
pub struct Completion {
    /// When it happened (default now).
    pub done_at: Option<DateTime<Utc>>,
    /// Result.
    pub outcome: Option<String>,
    /// Notes (replace the plan's notes when given).
    pub notes: Option<String>,
    /// Attendees.
    pub attendee_count: Option<i32>,
    /// Replaces contacts met, when given.
    pub contact_ids: Option<Vec<Uuid>>,
    /// Replaces products introduced, when given.
    pub product_ids: Option<Vec<Uuid>>,
    /// Replaces reactions, when given.
    pub reactions: Option<Vec<String>>,
}

fn small(field: &str, v: Option<i32>, max: i32) -> AppResult<Option<i32>> {
    match v {
        Some(n) if !(0..=max).contains(&n) => Err(AppError::bad(format!("`{field}` must be between 0 and {max}"))),
        other => Ok(other),
    }
}

async fn check_deal(
    db: &impl ConnectionTrait,
    actor: &Actor,
    deal_id: Option<Uuid>,
    customer_id: Uuid,
) -> AppResult<()> {
    if let Some(id) = deal_id {
        let d = access::find_readable::<deal::Entity>(db, actor, id, Some(deal::Column::DeletedAt)).await?;
        if d.customer_id != customer_id {
            return Err(AppError::bad("`dealId` is a deal of another customer"));
        }
    }
    Ok(())
}

/// What the details of an activity hold once checked: its reaction keys
/// (sorted, distinct) and the (level, department) of the contacts met.
struct Checked {
    reactions: Vec<String>,
    met: Vec<(String, Option<String>)>,
}

async fn check_details(db: &impl ConnectionTrait, actor: &Actor, customer_id: Uuid, d: &Details) -> AppResult<Checked> {
    if d.contact_ids.len() > 100 || d.product_ids.len() > 100 || d.reactions.len() > 50 {
        return Err(AppError::bad(
            "an activity holds at most 100 contacts, 100 products and 50 reactions",
        ));
    }
    let mut met = Vec::new();
    if !d.contact_ids.is_empty() {
        let found: Vec<(Uuid, String, Option<String>)> = contact::Entity::find()
            .select_only()
            .columns([
                contact::Column::CustomerId,
                contact::Column::Level,
                contact::Column::Department,
            ])
            .filter(contact::Column::CompanyId.eq(actor.company_id))
            .filter(contact::Column::Id.is_in(d.contact_ids.clone()))
            .filter(contact::Column::DeletedAt.is_null())
            .into_tuple()
            .all(db)
            .await?;
        let distinct: std::collections::HashSet<_> = d.contact_ids.iter().collect();
        if found.len() != distinct.len() {
            return Err(AppError::NotFound("Contact"));
        }
        if found.iter().any(|c| c.0 != customer_id) {
            return Err(AppError::bad(
                "`contactIds` must be contacts of the activity's customer",
            ));
        }
        met = found
            .into_iter()
            .map(|(_, level, department)| (level, department))
            .collect();
    }
    ensure_all::<product::Entity>(db, actor, &d.product_ids).await?;
    let known = &actor.plugins.process.reactions;
    let mut reactions: Vec<String> = d
        .reactions
        .iter()
        .map(|r| {
            let key = validate::key("reactions", r)?;
            if !known.is_empty() && !known.iter().any(|k| k.key == key) {
                return Err(AppError::bad(format!(
                    "`{key}` is not a customer reaction of your company"
                )));
            }
            Ok(key)
        })
        .collect::<AppResult<_>>()?;
    reactions.sort();
    reactions.dedup();
    Ok(Checked { reactions, met })
}

/// Sets the links of an activity: each list given replaces the stored one
/// (`fresh`: the activity was just created, nothing to delete). One INSERT
/// per table, whatever the number of links.
async fn replace_details(
    db: &impl ConnectionTrait,
    actor: &Actor,
    activity_id: Uuid,
    fresh: bool,
    contacts: Option<&[Uuid]>,
    products: Option<&[Uuid]>,
    reactions: Option<&[String]>,
) -> AppResult<()> {
    let company = actor.company_id;
    let distinct = |ids: &[Uuid]| {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        ids
    };
    if let Some(ids) = contacts {
        if !fresh {
            activity_contact::Entity::delete_many()
                .filter(activity_contact::Column::ActivityId.eq(activity_id))
                .exec(db)
                .await?;
        }
        let rows = distinct(ids)
            .into_iter()
            .map(|contact_id| activity_contact::ActiveModel {
                activity_id: Set(activity_id),
                contact_id: Set(contact_id),
                company_id: Set(company),
            });
        activity_contact::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    if let Some(ids) = products {
        if !fresh {
            activity_product::Entity::delete_many()
                .filter(activity_product::Column::ActivityId.eq(activity_id))
                .exec(db)
                .await?;
        }
        let rows = distinct(ids)
            .into_iter()
            .map(|product_id| activity_product::ActiveModel {
                activity_id: Set(activity_id),
                product_id: Set(product_id),
                company_id: Set(company),
            });
        activity_product::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    if let Some(keys) = reactions {
        if !fresh {
            activity_reaction::Entity::delete_many()
                .filter(activity_reaction::Column::ActivityId.eq(activity_id))
                .exec(db)
                .await?;
        }
        let rows = keys.iter().map(|reaction| activity_reaction::ActiveModel {
            activity_id: Set(activity_id),
            reaction: Set(reaction.clone()),
            company_id: Set(company),
        });
        activity_reaction::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The customers and deals whose last contact a write changed. They are
/// recomputed together at the end of the write, customers first, then deals,
/// each in id order: two writes touching the same rows then lock them in the
/// same order, so PostgreSQL never has to break a deadlock between two daily
/// reports that list the same customers in different orders.
#[derive(Default)]
struct Touched {
    customers: std::collections::BTreeSet<Uuid>,
    deals: std::collections::BTreeSet<Uuid>,
}

impl Touched {
    fn add(&mut self, customer_id: Uuid, deal_id: Option<Uuid>) {
        self.customers.insert(customer_id);
        self.deals.extend(deal_id);
    }

    /// Recomputes the customers' last contact and the deals' last activity
    /// from their live done activities (derived fields: no version bump).
    /// One UPDATE each, the latest found through the (company, customer |
    /// deal) indexes.
    async fn refresh(self, db: &impl ConnectionTrait, company_id: Uuid) -> AppResult<()> {
        let backend = db.get_database_backend();
        let sets = [
            ("customer", "last_contact_at", "customer_id", self.customers),
            ("deal", "last_activity_at", "deal_id", self.deals),
        ];
        for (table, column, key, ids) in sets {
            for row in ids {
                let mut p = Params::new(backend, company_id);
                let id = p.push(row);
                db.execute_raw(p.statement(format!(
                    "UPDATE {table} SET {column} = (SELECT MAX(done_at) FROM activity WHERE company_id = $1
                       AND {key} = {id} AND status = 'done' AND deleted_at IS NULL)
                     WHERE company_id = $1 AND id = {id}"
                )))
                .await?;
            }
        }
        Ok(())
    }
}

/// Creates a planned or done activity (optionally inside a daily report).
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    f: NewActivity,
    daily_report_id: Option<Uuid>,
) -> AppResult<activity::Model> {
    let mut touched = Touched::default();
    let created = create_in(db, actor, f, daily_report_id, &mut touched).await?;
    touched.refresh(db, actor.company_id).await?;
    Ok(created)
}

/// [`create`], leaving the last-contact refresh to the caller.
async fn create_in(
    db: &impl ConnectionTrait,
    actor: &Actor,
    f: NewActivity,
    daily_report_id: Option<Uuid>,
    touched: &mut Touched,
) -> AppResult<activity::Model> {
    let member = f.member_id.unwrap_or(actor.member_id);
    if member != actor.member_id {
        actor.require_answers_for(member, "record activities")?;
        active_member(db, actor, member).await?;
    }
    access::find_readable::<customer::Entity>(db, actor, f.customer_id, Some(customer::Column::DeletedAt)).await?;
    check_deal(db, actor, f.deal_id, f.customer_id).await?;
    let checked = check_details(db, actor, f.customer_id, &f.details).await?;
    let done_at = match f.status {
        ActivityStatus::Planned if f.done_at.is_some() => {
            return Err(AppError::bad("a PLANNED activity has no `doneAt`; complete it later"));
        }
        ActivityStatus::Planned => None,
        ActivityStatus::Done => Some(f.done_at.unwrap_or(f.scheduled_at)),
        ActivityStatus::Cancelled => return Err(AppError::bad("create an activity as PLANNED or DONE")),
    };
    let attendees = small("attendeeCount", f.attendee_count, 10_000)?
        .unwrap_or_else(|| (f.details.contact_ids.len() as i32).max(1));
    let duration_minutes = small("durationMinutes", f.duration_minutes, 24 * 60)?;
    // Scored from what the request holds, so the row is written once.
    let scored = if f.status == ActivityStatus::Done {
        points(actor, f.kind, attendees, duration_minutes, &checked).await
    } else {
        None
    };
    let t = now();
    let am = activity::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        member_id: Set(member),
        customer_id: Set(f.customer_id),
        deal_id: Set(f.deal_id),
        daily_report_id: Set(daily_report_id),
        kind: Set(f.kind),
        status: Set(f.status),
        subject: Set(validate::text("subject", &f.subject, 200)?),
        scheduled_at: Set(f.scheduled_at),
        done_at: Set(done_at),
        duration_minutes: Set(duration_minutes),
        attendee_count: Set(attendees),
        notes: Set(validate::opt_text("notes", f.notes, validate::LONG_TEXT)?),
        outcome: Set(validate::opt_text("outcome", f.outcome, validate::LONG_TEXT)?),
        energy_points: Set(scored.as_ref().map(|s| s.0)),
        energy_version: Set(scored.map(|s| s.1)),
        version: Set(1),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
        external_ref: Set(None),
    };
    let created = insert_audited(db, actor, am).await?;
    let d = &f.details;
    replace_details(
        db,
        actor,
        created.id,
        true,
        Some(&d.contact_ids),
        Some(&d.product_ids),
        Some(&checked.reactions),
    )
    .await?;
    if created.status == ActivityStatus::Done {
        touched.add(created.customer_id, created.deal_id);
    }
    Ok(created)
}

/// The points of a done activity by the company's scoring script, with the
/// script's version; `None` when the script fails: a broken script must not
/// lose a rep's work, so the activity is kept unscored and the failure
/// logged for the admin.
async fn points(
    actor: &Actor,
    kind: ActivityKind,
    attendees: i32,
    duration_minutes: Option<i32>,
    checked: &Checked,
) -> Option<(i32, String)> {
    let input = crate::plugins::activity_input(
        kind.as_str(),
        attendees,
        duration_minutes,
        &checked.reactions,
        &checked.met,
    );
    let set = actor.plugins.clone();
    match crate::plugins::run(&actor.scripts, move || set.activity_points(input)).await {
        Ok(points) => Some((points, actor.plugins.scoring_version.clone())),
        Err(e) => {
            tracing::warn!(company = %actor.company_id, error = %e.message(), "scoring failed");
            None
        }
    }
}

/// Scores a done activity with the company's scoring script and stores the
/// points with the script's version (a derived field: no version bump).
/// Planned and cancelled activities carry no score.
pub async fn score(db: &impl ConnectionTrait, actor: &Actor, mut a: activity::Model) -> AppResult<activity::Model> {
    if a.status != ActivityStatus::Done {
        return Ok(a);
    }
    let reactions: Vec<String> = activity_reaction::Entity::find()
        .select_only()
        .column(activity_reaction::Column::Reaction)
        .filter(activity_reaction::Column::ActivityId.eq(a.id))
        .into_tuple()
        .all(db)
        .await?;
    let met = activity_contact::Entity::find()
        .select_only()
        .column(activity_contact::Column::ContactId)
        .filter(activity_contact::Column::ActivityId.eq(a.id))
        .into_query();
    let contacts: Vec<(String, Option<String>)> = contact::Entity::find()
        .select_only()
        .columns([contact::Column::Level, contact::Column::Department])
        .filter(contact::Column::Id.in_subquery(met))
        .into_tuple()
        .all(db)
        .await?;
    let input = crate::plugins::activity_input(
        a.kind.as_str(),
        a.attendee_count,
        a.duration_minutes,
        &reactions,
        &contacts,
    );
    let set = actor.plugins.clone();
    // A broken scoring script must not lose a rep's work: the activity is
    // kept unscored and the failure logged for the admin.
    let points = match crate::plugins::run(&actor.scripts, move || set.activity_points(input)).await {
        Ok(points) => points,
        Err(e) => {
            tracing::warn!(company = %actor.company_id, activity = %a.id, error = %e.message(), "scoring failed");
            return Ok(a);
        }
    };
    let version = actor.plugins.scoring_version.clone();
    activity::Entity::update_many()
        .col_expr(activity::Column::EnergyPoints, Expr::value(points))
        .col_expr(activity::Column::EnergyVersion, Expr::value(version.clone()))
        .filter(activity::Column::Id.eq(a.id))
        .exec(db)
        .await?;
    a.energy_points = Some(points);
    a.energy_version = Some(version);
    Ok(a)
}

/// Changes an activity at `version`.
pub async fn update(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    p: ActivityPatch,
) -> AppResult<activity::Model> {
    let before = find_live::<activity::Entity>(db, actor, id).await?;
    access::can_edit_activity(actor, &before)?;
    expect_version::<activity::Entity>(&before, version)?;
    let mut am = before.clone().into_active_model();
    if let Some(k) = p.kind {
        am.kind = Set(k);
    }
    if let Some(s) = p.subject {
        am.subject = Set(validate::text("subject", &s, 200)?);
    }
    if let Some(t) = p.scheduled_at {
        am.scheduled_at = Set(t);
    }
    if let Some(t) = p.done_at {
        if before.status != ActivityStatus::Done {
            return Err(AppError::bad("only a DONE activity has `doneAt`; complete it instead"));
        }
        am.done_at = Set(Some(t));
    }
    let deal_id = p.deal_id.unwrap_or(before.deal_id);
    check_deal(db, actor, deal_id, before.customer_id).await?;
    am.deal_id = Set(deal_id);
    if let Some(v) = p.duration_minutes {
        am.duration_minutes = Set(small("durationMinutes", v, 24 * 60)?);
    }
    if let Some(v) = p.attendee_count {
        am.attendee_count = Set(small("attendeeCount", Some(v), 10_000)?.unwrap_or(1));
    }
    if let Some(v) = p.notes {
        am.notes = Set(validate::opt_text("notes", v, validate::LONG_TEXT)?);
    }
    if let Some(v) = p.outcome {
        am.outcome = Set(validate::opt_text("outcome", v, validate::LONG_TEXT)?);
    }
    let details = Details {
        contact_ids: p.contact_ids.clone().unwrap_or_default(),
        product_ids: p.product_ids.clone().unwrap_or_default(),
        reactions: p.reactions.clone().unwrap_or_default(),
    };
    let reactions = check_details(db, actor, before.customer_id, &details).await?.reactions;
    let after = update_versioned(db, actor, "update", &before, version, am).await?;
    replace_details(
        db,
        actor,
        id,
        false,
        p.contact_ids.as_deref(),
        p.product_ids.as_deref(),
        p.reactions.is_some().then_some(&reactions[..]),
    )
    .await?;
    if after.status == ActivityStatus::Done {
        let mut touched = Touched::default();
        touched.add(after.customer_id, after.deal_id);
        touched.add(before.customer_id, before.deal_id);
        touched.refresh(db, actor.company_id).await?;
    }
    let after = score(db, actor, after).await?;
    Ok(after)
}

/// Completes a planned activity with its outcome.
pub async fn complete(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    c: Completion,
    daily_report_id: Option<Uuid>,
) -> AppResult<activity::Model> {
    let mut touched = Touched::default();
    let after = complete_in(db, actor, id, version, c, daily_report_id, &mut touched).await?;
    touched.refresh(db, actor.company_id).await?;
    Ok(after)
}

/// [`complete`], leaving the last-contact refresh to the caller.
async fn complete_in(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    c: Completion,
    daily_report_id: Option<Uuid>,
    touched: &mut Touched,
) -> AppResult<activity::Model> {
    let before = find_live::<activity::Entity>(db, actor, id).await?;
    access::can_edit_activity(actor, &before)?;
    expect_version::<activity::Entity>(&before, version)?;
    if before.status != ActivityStatus::Planned {
        return Err(AppError::bad("only a PLANNED activity can be completed"));
    }
    let details = Details {
        contact_ids: c.contact_ids.clone().unwrap_or_default(),
        product_ids: c.product_ids.clone().unwrap_or_default(),
        reactions: c.reactions.clone().unwrap_or_default(),
    };
    let reactions = check_details(db, actor, before.customer_id, &details).await?.reactions;
    let mut am = before.clone().into_active_model();
    am.status = Set(ActivityStatus::Done);
    am.done_at = Set(Some(c.done_at.unwrap_or_else(now)));
    if c.outcome.is_some() {
        am.outcome = Set(validate::opt_text("outcome", c.outcome, validate::LONG_TEXT)?);
    }
    if c.notes.is_some() {
        am.notes = Set(validate::opt_text("notes", c.notes, validate::LONG_TEXT)?);
    }
    if let Some(n) = c.attendee_count {
        am.attendee_count = Set(small("attendeeCount", Some(n), 10_000)?.unwrap_or(1));
    }
    if daily_report_id.is_some() {
        am.daily_report_id = Set(daily_report_id);
    }
    let after = update_versioned(db, actor, "complete", &before, version, am).await?;
    replace_details(
        db,
        actor,
        id,
        false,
        c.contact_ids.as_deref(),
        c.product_ids.as_deref(),
        c.reactions.is_some().then_some(&reactions[..]),
    )
    .await?;
    touched.add(after.customer_id, after.deal_id);
    let after = score(db, actor, after).await?;
    Ok(after)
}

/// Cancels a planned activity.
pub async fn cancel(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, version: i32) -> AppResult<activity::Model> {
    let before = find_live::<activity::Entity>(db, actor, id).await?;
    access::can_edit_activity(actor, &before)?;
    expect_version::<activity::Entity>(&before, version)?;
    if before.status != ActivityStatus::Planned {
        return Err(AppError::bad("only a PLANNED activity can be cancelled"));
    }
    let mut am = before.clone().into_active_model();
    am.status = Set(ActivityStatus::Cancelled);
    update_versioned(db, actor, "cancel", &before, version, am).await
}

/// Soft-deletes an activity (the customer's last contact is recomputed).
pub async fn delete(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, version: i32) -> AppResult<activity::Model> {
    let before = find_live::<activity::Entity>(db, actor, id).await?;
    access::can_edit_activity(actor, &before)?;
    let after = delete_versioned::<activity::Entity, activity::ActiveModel>(db, actor, &before, version).await?;
    if before.status == ActivityStatus::Done {
        let mut touched = Touched::default();
        touched.add(before.customer_id, before.deal_id);
        touched.refresh(db, actor.company_id).await?;
    }
    Ok(after)
}

/// A daily report in one call.
#[derive(Clone)]
pub struct ReportSubmission {
    /// The day reported on.
    pub date: NaiveDate,
    /// Free text.
    pub body: String,
    /// Version of the existing report of that day, when changing it.
    pub version: Option<i32>,
    /// Submit now (true) or keep as a draft (false).
    pub submit: bool,
    /// New activities of the day (done or planned), recorded under the report.
    pub activities: Vec<NewActivity>,
    /// Planned activities completed in this report: (id, version, completion).
    pub completed: Vec<(Uuid, i32, Completion)>,
}

/// Writes the caller's report for a day: creates or updates it, records its
/// activities and completes the planned ones it names — all or nothing.
pub async fn submit_report(
    db: &impl ConnectionTrait,
    actor: &Actor,
    s: ReportSubmission,
) -> AppResult<daily_report::Model> {
    if s.activities.len() + s.completed.len() > 200 {
        return Err(AppError::bad("a daily report holds at most 200 activities"));
    }
    let body = validate::body("body", &s.body, validate::LONG_TEXT)?;
    let existing = daily_report::Entity::find()
        .filter(daily_report::Column::CompanyId.eq(actor.company_id))
        .filter(daily_report::Column::MemberId.eq(actor.member_id))
        .filter(daily_report::Column::ReportDate.eq(s.date))
        .one(db)
        .await?;
    let submitted_at = s.submit.then(now);
    // Submitting (not saving a draft, not editing a submitted report) tells people.
    let newly_submitted = s.submit && existing.as_ref().is_none_or(|r| r.submitted_at.is_none());
    let report = match existing {
        Some(before) => {
            let Some(version) = s.version else {
                return Err(AppError::Conflict(format!(
                    "you already have a report for {} (version {}); send its version to change it",
                    s.date, before.version
                )));
            };
            let mut am = before.clone().into_active_model();
            am.body = Set(body);
            am.submitted_at = Set(submitted_at.or(before.submitted_at));
            update_versioned(db, actor, "update", &before, version, am).await?
        }
        None => {
            let t = now();
            let am = daily_report::ActiveModel {
                id: Set(new_id()),
                company_id: Set(actor.company_id),
                member_id: Set(actor.member_id),
                report_date: Set(s.date),
                body: Set(body),
                submitted_at: Set(submitted_at),
                version: Set(1),
                created_at: Set(t),
                updated_at: Set(t),
            };
            insert_audited(db, actor, am).await?
        }
    };
    let mut touched = Touched::default();
    for mut activity in s.activities {
        activity.member_id = Some(actor.member_id);
        create_in(db, actor, activity, Some(report.id), &mut touched).await?;
    }
    for (id, version, completion) in s.completed {
        let planned = find_scoped::<activity::Entity>(db, actor, id).await?;
        if planned.member_id != actor.member_id {
            return Err(AppError::Forbidden(
                "a daily report completes only your own activities".into(),
            ));
        }
        complete_in(db, actor, id, version, completion, Some(report.id), &mut touched).await?;
    }
    touched.refresh(db, actor.company_id).await?;
    if newly_submitted {
        super::notify::report_submitted(db, actor, &report).await?;
    }
    Ok(report)
}
