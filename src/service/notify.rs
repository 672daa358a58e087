//! Notifications: who hears of what, written in the same transaction as the
//! change they report, and announced live once it commits.
//!
//! A candidate recipient gets a notification only when they are an active
//! member of the company, are not the one who made the change, have not
//! muted the kind, and may read the record under the access rules.

use std::{collections::BTreeSet, sync::Arc};

use chrono::{Duration, NaiveDate};
use entity::{
    activity, comment, company, customer, daily_report, deal, deal_member,
    enums::{CommentSubject, DealStatus, NotificationKind, NotificationSubject, TaskStatus},
    follow, member, notification, notification_mute, question, task, team,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set, sea_query::OnConflict};
use serde_json::json;
use uuid::Uuid;

use super::{Actor, access, new_id, now};
use crate::{
    error::{AppError, AppResult},
    events::{Event, EventKind, Outbox},
    plugins::PluginSet,
};

/// Longest summary, in characters.
const MAX_SUMMARY: usize = 200;

/// A notification to deliver.
#[derive(Debug, Clone)]
pub struct Draft {
    /// What happened.
    pub kind: NotificationKind,
    /// The record it is about.
    pub subject: (NotificationSubject, Uuid),
    /// The comment, for comments and mentions.
    pub comment_id: Option<Uuid>,
    /// One line a person reads.
    pub summary: String,
    /// Makes a reminder raised twice one row (per recipient).
    pub dedupe_key: Option<String>,
}

/// Where a notification comes from: a member's change, or a reminder.
pub struct Origin<'a> {
    /// The company.
    pub company_id: Uuid,
    /// Who made the change (never notified of their own change).
    pub actor_id: Option<Uuid>,
    /// The company's plugin set, for the recipients' read rules.
    pub plugins: &'a Arc<PluginSet>,
    /// The company's time zone.
    pub time_zone: chrono_tz::Tz,
    /// Where the live events go.
    pub outbox: &'a Outbox,
}

impl<'a> From<&'a Actor> for Origin<'a> {
    fn from(a: &'a Actor) -> Self {
        Self {
            company_id: a.company_id,
            actor_id: Some(a.member_id),
            plugins: &a.plugins,
            time_zone: a.time_zone,
            outbox: &a.outbox,
        }
    }
}

/// Delivers `draft` to the candidates entitled to it; returns who got it.
pub async fn send(
    db: &impl ConnectionTrait,
    origin: &Origin<'_>,
    candidates: impl IntoIterator<Item = Uuid>,
    draft: &Draft,
) -> AppResult<Vec<Uuid>> {
    let mut got = send_all(db, origin, vec![(candidates.into_iter().collect(), draft.clone())]).await?;
    Ok(got.pop().unwrap_or_default())
}

/// Delivers several drafts at once (one change telling different people
/// different things): the mutes, members and company are read once for all,
/// each member's view of the records is built once, and the rows are written
/// in one statement. Returns who got each draft.
pub async fn send_all(
    db: &impl ConnectionTrait,
    origin: &Origin<'_>,
    batch: Vec<(BTreeSet<Uuid>, Draft)>,
) -> AppResult<Vec<Vec<Uuid>>> {
    let batch: Vec<(BTreeSet<Uuid>, Draft)> = batch
        .into_iter()
        .map(|(c, d)| (c.into_iter().filter(|m| Some(*m) != origin.actor_id).collect(), d))
        .collect();
    let everyone: BTreeSet<Uuid> = batch.iter().flat_map(|(c, _)| c.iter().copied()).collect();
    if everyone.is_empty() {
        return Ok(vec![Vec::new(); batch.len()]);
    }
    let kinds: BTreeSet<&str> = batch.iter().map(|(_, d)| d.kind.as_str()).collect();
    let muted: Vec<(Uuid, NotificationKind)> = notification_mute::Entity::find()
        .select_only()
        .columns([notification_mute::Column::MemberId, notification_mute::Column::Kind])
        .filter(notification_mute::Column::MemberId.is_in(everyone.iter().copied()))
        .filter(notification_mute::Column::Kind.is_in(kinds))
        .into_tuple()
        .all(db)
        .await?;
    let members = member::Entity::find()
        .filter(member::Column::CompanyId.eq(origin.company_id))
        .filter(member::Column::Active.eq(true))
        .filter(member::Column::Id.is_in(everyone.iter().copied()))
        .all(db)
        .await?;
    if members.is_empty() {
        return Ok(vec![Vec::new(); batch.len()]);
    }
    let company = company::Entity::find_by_id(origin.company_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Company"))?;
    let mut readers: std::collections::HashMap<Uuid, Actor> = std::collections::HashMap::new();
    let t = now();
    let mut rows: Vec<notification::ActiveModel> = Vec::new();
    let mut sent: Vec<Vec<(Uuid, Uuid)>> = Vec::with_capacity(batch.len());
    for (candidates, draft) in &batch {
        let summary: String = draft.summary.chars().take(MAX_SUMMARY).collect();
        let mut ids = Vec::new();
        for m in members.iter().filter(|m| candidates.contains(&m.id)) {
            if muted.contains(&(m.id, draft.kind)) {
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = readers.entry(m.id) {
                e.insert(reader(db, m, &company, origin.plugins, origin.time_zone).await?);
            }
            let Some(r) = readers.get(&m.id) else { continue };
            if !may_read(db, r, draft.subject).await? {
                continue;
            }
            let id = new_id();
            ids.push((id, m.id));
            rows.push(notification::ActiveModel {
                id: Set(id),
                company_id: Set(origin.company_id),
                recipient_id: Set(m.id),
                kind: Set(draft.kind),
                subject_type: Set(draft.subject.0),
                subject_id: Set(draft.subject.1),
                comment_id: Set(draft.comment_id),
                actor_id: Set(origin.actor_id),
                summary: Set(summary.clone()),
                dedupe_key: Set(draft.dedupe_key.clone()),
                created_at: Set(t),
                read_at: Set(None),
            });
        }
        sent.push(ids);
    }
    if rows.is_empty() {
        return Ok(vec![Vec::new(); batch.len()]);
    }
    let expected = rows.len() as u64;
    // A reminder already sent (another replica, an earlier run) stays one row.
    let inserted = notification::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([notification::Column::RecipientId, notification::Column::DedupeKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted < expected {
        // Announce only the rows that were written.
        let written: BTreeSet<Uuid> = notification::Entity::find()
            .select_only()
            .column(notification::Column::Id)
            .filter(notification::Column::Id.is_in(sent.iter().flatten().map(|(id, _)| *id)))
            .into_tuple::<Uuid>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for ids in &mut sent {
            ids.retain(|(id, _)| written.contains(id));
        }
    }
    Ok(sent.into_iter().map(|ids| announce(origin, ids)).collect())
}

fn announce(origin: &Origin<'_>, ids: impl IntoIterator<Item = (Uuid, Uuid)>) -> Vec<Uuid> {
    ids.into_iter()
        .map(|(id, recipient)| {
            origin.outbox.push(Event {
                company_id: origin.company_id,
                kind: EventKind::Notification,
                id,
                member: Some(recipient),
            });
            recipient
        })
        .collect()
}

/// Posts the event to the company's webhooks that want it (queued in the
/// same transaction; sent by the worker after commit).
async fn post_to_webhooks(
    db: &impl ConnectionTrait,
    origin: &Origin<'_>,
    draft: &Draft,
    ordering_key: Uuid,
    details: serde_json::Value,
) -> AppResult<()> {
    let a = super::webhook::Announcement {
        kind: draft.kind,
        subject: draft.subject,
        ordering_key,
        text: &draft.summary,
        details,
        dedupe_key: draft.dedupe_key.as_deref(),
    };
    super::webhook::enqueue(db, origin, &a).await.map(drop)
}

/// A member as the access rules see them, to check what they may read.
async fn reader(
    db: &impl ConnectionTrait,
    m: &member::Model,
    company: &company::Model,
    plugins: &Arc<PluginSet>,
    time_zone: chrono_tz::Tz,
) -> AppResult<Actor> {
    Ok(Actor {
        member_id: m.id,
        company_id: m.company_id,
        role: m.role,
        team_id: m.team_id,
        api_key: None,
        reach: Arc::new(access::reach(db, m, company).await?),
        plugins: plugins.clone(),
        time_zone,
        outbox: Outbox::default(),
        scripts: crate::plugins::ScriptBudget::unbounded(),
        session_id: None,
    })
}

/// Whether `reader` may read the record, a live record of the company (the
/// one just written or checked by the caller).
async fn may_read(db: &impl ConnectionTrait, reader: &Actor, subject: (NotificationSubject, Uuid)) -> AppResult<bool> {
    if unrestricted(reader, subject.0) {
        // No read rule narrows this reader's view of such records: skip the query.
        return Ok(true);
    }
    match readable(db, reader, subject).await {
        Ok(()) => Ok(true),
        Err(AppError::Forbidden(_) | AppError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// True when `reader` reads every live record of the kind in the company.
fn unrestricted(reader: &Actor, kind: NotificationSubject) -> bool {
    use access::Guarded;
    match kind {
        NotificationSubject::DailyReport => daily_report::Entity::readable(reader).is_none(),
        NotificationSubject::Deal => deal::Entity::readable(reader).is_none(),
        NotificationSubject::Activity => activity::Entity::readable(reader).is_none(),
        NotificationSubject::Customer => customer::Entity::readable(reader).is_none(),
        NotificationSubject::Task => task::Entity::readable(reader).is_none(),
        NotificationSubject::Question => true,
    }
}

/// The record, if `reader` may read it: NOT_FOUND or FORBIDDEN otherwise.
async fn readable(db: &impl ConnectionTrait, reader: &Actor, (kind, id): (NotificationSubject, Uuid)) -> AppResult<()> {
    use access::find_readable;
    match kind {
        NotificationSubject::DailyReport => find_readable::<daily_report::Entity>(db, reader, id, None)
            .await
            .map(drop),
        NotificationSubject::Deal => find_readable::<deal::Entity>(db, reader, id, Some(deal::Column::DeletedAt))
            .await
            .map(drop),
        NotificationSubject::Activity => {
            find_readable::<activity::Entity>(db, reader, id, Some(activity::Column::DeletedAt))
                .await
                .map(drop)
        }
        NotificationSubject::Customer => {
            find_readable::<customer::Entity>(db, reader, id, Some(customer::Column::DeletedAt))
                .await
                .map(drop)
        }
        NotificationSubject::Task => find_readable::<task::Entity>(db, reader, id, Some(task::Column::DeletedAt))
            .await
            .map(drop),
        // Questions are open to the whole company.
        NotificationSubject::Question => super::find_live::<question::Entity>(db, reader, id).await.map(drop),
    }
}

/// The deal's owner and members.
async fn deal_people(db: &impl ConnectionTrait, deals: &[deal::Model]) -> AppResult<BTreeSet<Uuid>> {
    let mut people: BTreeSet<Uuid> = deals.iter().map(|d| d.owner_id).collect();
    if !deals.is_empty() {
        let members: Vec<Uuid> = deal_member::Entity::find()
            .select_only()
            .column(deal_member::Column::MemberId)
            .filter(deal_member::Column::DealId.is_in(deals.iter().map(|d| d.id)))
            .into_tuple()
            .all(db)
            .await?;
        people.extend(members);
    }
    Ok(people)
}

/// The manager a member reports to: their team's manager, or, for the
/// manager themself, the manager of the team above.
async fn manager_of(db: &impl ConnectionTrait, m: &member::Model) -> AppResult<Option<Uuid>> {
    let mut team_id = m.team_id;
    // Bounded walk up the tree.
    for _ in 0..32 {
        let Some(id) = team_id else { return Ok(None) };
        let Some(t) = team::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        match t.manager_id {
            Some(manager) if manager != m.id => return Ok(Some(manager)),
            _ => team_id = t.parent_id,
        }
    }
    Ok(None)
}

/// A daily report was submitted: to the author's manager; and to the members
/// of each deal its activities touch, about that deal's activity (they may
/// read the deal's activities, not the author's whole report).
pub async fn report_submitted(db: &impl ConnectionTrait, actor: &Actor, report: &daily_report::Model) -> AppResult<()> {
    let author = super::find_member(db, actor, report.member_id).await?;
    let manager = manager_of(db, &author).await?;
    let about = format!("{}'s daily report of {}", author.name, report.report_date);
    let draft = Draft {
        kind: NotificationKind::DailyReport,
        subject: (NotificationSubject::DailyReport, report.id),
        comment_id: None,
        summary: format!("{} submitted the daily report of {}", author.name, report.report_date),
        dedupe_key: None,
    };
    let details = json!({
        "reportId": report.id,
        "reportDate": report.report_date,
        "memberId": author.id,
        "memberName": author.name,
    });
    post_to_webhooks(db, &actor.into(), &draft, report.id, details).await?;
    // The manager's notification and the deals' go out together.
    let mut batch = vec![(manager.into_iter().collect::<BTreeSet<Uuid>>(), draft)];
    let on_deals: Vec<(Uuid, Option<Uuid>)> = activity::Entity::find()
        .select_only()
        .columns([activity::Column::Id, activity::Column::DealId])
        .filter(activity::Column::CompanyId.eq(actor.company_id))
        .filter(activity::Column::DailyReportId.eq(report.id))
        .filter(activity::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut first_on: Vec<(Uuid, Uuid)> = Vec::new();
    for (activity_id, deal_id) in on_deals {
        if let Some(d) = deal_id
            && !first_on.iter().any(|(deal, _)| *deal == d)
        {
            first_on.push((d, activity_id));
        }
    }
    let (deals, staffed) = if first_on.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let deals = deal::Entity::find()
            .filter(deal::Column::CompanyId.eq(actor.company_id))
            .filter(deal::Column::Id.is_in(first_on.iter().map(|(d, _)| *d)))
            .filter(deal::Column::DeletedAt.is_null())
            .all(db)
            .await?;
        let staffed: Vec<(Uuid, Uuid)> = deal_member::Entity::find()
            .select_only()
            .columns([deal_member::Column::DealId, deal_member::Column::MemberId])
            .filter(deal_member::Column::DealId.is_in(deals.iter().map(|d| d.id)))
            .into_tuple()
            .all(db)
            .await?;
        (deals, staffed)
    };
    for d in &deals {
        let Some((_, activity_id)) = first_on.iter().find(|(id, _)| *id == d.id) else {
            continue;
        };
        let mut people: BTreeSet<Uuid> = staffed
            .iter()
            .filter(|(deal, _)| *deal == d.id)
            .map(|(_, m)| *m)
            .collect();
        people.insert(d.owner_id);
        // The manager heard of the whole report already.
        people.retain(|p| Some(*p) != manager);
        let draft = Draft {
            kind: NotificationKind::DailyReport,
            subject: (NotificationSubject::Activity, *activity_id),
            comment_id: None,
            summary: format!("{about} records work on {}", d.name),
            dedupe_key: None,
        };
        batch.push((people, draft));
    }
    send_all(db, &actor.into(), batch).await?;
    Ok(())
}

/// A deal's stage or outcome changed: to its owner and members.
pub async fn deal_changed(
    db: &impl ConnectionTrait,
    actor: &Actor,
    before: &deal::Model,
    after: &deal::Model,
) -> AppResult<()> {
    let (kind, summary) = match (before.status, after.status) {
        (DealStatus::Open, DealStatus::Won) => (NotificationKind::DealWon, format!("{} was won", after.name)),
        (DealStatus::Open, DealStatus::Lost) => (NotificationKind::DealLost, format!("{} was lost", after.name)),
        _ if before.stage != after.stage => (
            NotificationKind::DealStage,
            format!(
                "{} moved from {} to {}",
                after.name,
                actor.plugins.process.stage_name(&before.stage),
                actor.plugins.process.stage_name(&after.stage)
            ),
        ),
        _ if before.status != after.status => (NotificationKind::DealStage, format!("{} was reopened", after.name)),
        _ => return Ok(()),
    };
    let people = deal_people(db, std::slice::from_ref(after)).await?;
    let draft = Draft {
        kind,
        subject: (NotificationSubject::Deal, after.id),
        comment_id: None,
        summary,
        dedupe_key: None,
    };
    send(db, &actor.into(), people, &draft).await?;
    let details = json!({
        "dealId": after.id,
        "dealName": after.name,
        "customerId": after.customer_id,
        "ownerId": after.owner_id,
        "stage": after.stage,
        "stageName": actor.plugins.process.stage_name(&after.stage),
        "previousStage": before.stage,
        "status": after.status.as_str().to_uppercase(),
        "amount": after.amount,
        "lostReason": after.lost_reason,
    });
    post_to_webhooks(db, &actor.into(), &draft, after.id, details).await
}

/// A quality indicator of a deal changed: to its owner and members.
pub async fn quality_changed(
    db: &impl ConnectionTrait,
    actor: &Actor,
    deal_id: Uuid,
    indicator: &str,
    checked: bool,
) -> AppResult<()> {
    let deal = super::find_live::<deal::Entity>(db, actor, deal_id).await?;
    let label = actor
        .plugins
        .process
        .quality_indicators
        .iter()
        .find(|q| q.key == indicator)
        .map(|q| q.name.clone())
        .unwrap_or_else(|| indicator.to_owned());
    let people = deal_people(db, std::slice::from_ref(&deal)).await?;
    let draft = Draft {
        kind: NotificationKind::Quality,
        subject: (NotificationSubject::Deal, deal.id),
        comment_id: None,
        summary: format!(
            "{}: {label} {}",
            deal.name,
            if checked { "checked" } else { "unchecked" }
        ),
        dedupe_key: None,
    };
    send(db, &actor.into(), people, &draft).await?;
    let details = json!({
        "dealId": deal.id,
        "dealName": deal.name,
        "indicator": indicator,
        "indicatorName": label,
        "checked": checked,
    });
    post_to_webhooks(db, &actor.into(), &draft, deal.id, details).await
}

/// A task was given to someone other than its creator.
pub async fn task_assigned(db: &impl ConnectionTrait, actor: &Actor, t: &task::Model) -> AppResult<()> {
    let draft = Draft {
        kind: NotificationKind::TaskAssigned,
        subject: (NotificationSubject::Task, t.id),
        comment_id: None,
        summary: match t.due_date {
            Some(d) => format!("New task for you: {} (due {d})", t.title),
            None => format!("New task for you: {}", t.title),
        },
        dedupe_key: None,
    };
    send(db, &actor.into(), [t.assignee_id], &draft).await?;
    post_to_webhooks(db, &actor.into(), &draft, t.deal_id.unwrap_or(t.id), task_details(t)).await
}

fn task_details(t: &task::Model) -> serde_json::Value {
    json!({
        "taskId": t.id,
        "title": t.title,
        "dueDate": t.due_date,
        "assigneeId": t.assignee_id,
        "customerId": t.customer_id,
        "dealId": t.deal_id,
    })
}

/// The record a comment is on, as a notification subject.
fn comment_subject(kind: CommentSubject) -> NotificationSubject {
    match kind {
        CommentSubject::DailyReport => NotificationSubject::DailyReport,
        CommentSubject::Deal => NotificationSubject::Deal,
        CommentSubject::Activity => NotificationSubject::Activity,
        CommentSubject::Customer => NotificationSubject::Customer,
    }
}

/// Whose a record is: the report's author, the deal's owner and members, the
/// activity's member, the customer's owner.
async fn owners(db: &impl ConnectionTrait, actor: &Actor, kind: CommentSubject, id: Uuid) -> AppResult<BTreeSet<Uuid>> {
    let scoped = |c: Option<Uuid>| c.into_iter().collect::<BTreeSet<Uuid>>();
    Ok(match kind {
        CommentSubject::DailyReport => scoped(
            super::find_scoped::<daily_report::Entity>(db, actor, id)
                .await
                .ok()
                .map(|r| r.member_id),
        ),
        CommentSubject::Deal => match super::find_scoped::<deal::Entity>(db, actor, id).await {
            Ok(d) => deal_people(db, &[d]).await?,
            Err(_) => BTreeSet::new(),
        },
        CommentSubject::Activity => scoped(
            super::find_scoped::<activity::Entity>(db, actor, id)
                .await
                .ok()
                .map(|a| a.member_id),
        ),
        CommentSubject::Customer => scoped(
            super::find_scoped::<customer::Entity>(db, actor, id)
                .await
                .ok()
                .map(|c| c.owner_id),
        ),
    })
}

/// Checks the members a comment mentions: in the company, active, and able to
/// read the record (a mention nobody can follow is refused, not dropped).
pub async fn check_mentions(
    db: &impl ConnectionTrait,
    actor: &Actor,
    kind: CommentSubject,
    subject_id: Uuid,
    mentions: &[Uuid],
) -> AppResult<()> {
    if mentions.len() > 20 {
        return Err(AppError::bad("a comment mentions at most 20 members"));
    }
    let company = company::Entity::find_by_id(actor.company_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Company"))?;
    for id in mentions {
        let m = super::find_member(db, actor, *id).await?;
        if !m.active {
            return Err(AppError::bad(format!(
                "{} is no longer active and cannot be mentioned",
                m.name
            )));
        }
        let reader = reader(db, &m, &company, &actor.plugins, actor.time_zone).await?;
        if !may_read(db, &reader, (comment_subject(kind), subject_id)).await? {
            return Err(AppError::bad(format!(
                "{} cannot read this {}, so cannot be mentioned on it",
                m.name,
                kind.as_str().replace('_', " ")
            )));
        }
    }
    Ok(())
}

/// A comment was written: mentions to the members mentioned; then to the
/// record's owners, the followers and the author of the comment replied to.
/// The commenter follows the record from now on.
pub async fn commented(
    db: &impl ConnectionTrait,
    actor: &Actor,
    c: &comment::Model,
    mentions: &[Uuid],
) -> AppResult<()> {
    let subject = (comment_subject(c.subject_type), c.subject_id);
    let author = super::find_member(db, actor, c.author_id).await?;
    let excerpt: String = c.body.chars().take(80).collect();
    let mentioned = send(
        db,
        &actor.into(),
        mentions.iter().copied(),
        &Draft {
            kind: NotificationKind::Mention,
            subject,
            comment_id: Some(c.id),
            summary: format!("{} mentioned you: {excerpt}", author.name),
            dedupe_key: None,
        },
    )
    .await?;
    let mut people = owners(db, actor, c.subject_type, c.subject_id).await?;
    people.extend(followers(db, actor, subject).await?);
    if let Some(parent) = c.parent_id
        && let Ok(p) = super::find_scoped::<comment::Entity>(db, actor, parent).await
    {
        people.insert(p.author_id);
    }
    // One notification per person: a mention says more than a comment.
    people.retain(|p| !mentioned.contains(p) && !mentions.contains(p));
    let draft = Draft {
        kind: NotificationKind::Comment,
        subject,
        comment_id: Some(c.id),
        summary: format!("{} commented: {excerpt}", author.name),
        dedupe_key: None,
    };
    send(db, &actor.into(), people, &draft).await?;
    let details = json!({
        "commentId": c.id,
        "parentId": c.parent_id,
        "authorId": author.id,
        "authorName": author.name,
        "body": c.body,
    });
    post_to_webhooks(db, &actor.into(), &draft, c.subject_id, details).await?;
    set_follow(db, actor, subject, true).await
}

/// Who follows a record.
pub async fn followers(
    db: &impl ConnectionTrait,
    actor: &Actor,
    (kind, id): (NotificationSubject, Uuid),
) -> AppResult<BTreeSet<Uuid>> {
    let ids: Vec<Uuid> = follow::Entity::find()
        .select_only()
        .column(follow::Column::MemberId)
        .filter(follow::Column::CompanyId.eq(actor.company_id))
        .filter(follow::Column::SubjectType.eq(kind))
        .filter(follow::Column::SubjectId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().collect())
}

/// Starts or stops following a record.
pub async fn set_follow(
    db: &impl ConnectionTrait,
    actor: &Actor,
    (kind, id): (NotificationSubject, Uuid),
    on: bool,
) -> AppResult<()> {
    if on {
        follow::Entity::insert(follow::ActiveModel {
            company_id: Set(actor.company_id),
            member_id: Set(actor.member_id),
            subject_type: Set(kind),
            subject_id: Set(id),
            created_at: Set(now()),
        })
        .on_conflict(
            OnConflict::columns([
                follow::Column::MemberId,
                follow::Column::SubjectType,
                follow::Column::SubjectId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    } else {
        follow::Entity::delete_many()
            .filter(follow::Column::MemberId.eq(actor.member_id))
            .filter(follow::Column::SubjectType.eq(kind))
            .filter(follow::Column::SubjectId.eq(id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Follow or unfollow a record the caller may read.
pub async fn follow_record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    subject: (NotificationSubject, Uuid),
    on: bool,
) -> AppResult<()> {
    if on {
        readable(db, actor, subject).await?;
    }
    set_follow(db, actor, subject, on).await
}

/// Open tasks due tomorrow or overdue, reminded once per task and deadline.
/// Runs for every company; returns the notifications written.
pub async fn remind_tasks(
    db: &impl ConnectionTrait,
    plugins: &crate::plugins::Plugins,
    outbox: &Outbox,
) -> AppResult<usize> {
    let companies = company::Entity::find().all(db).await?;
    let mut written = 0;
    for company in companies {
        let tz = super::period::company_zone(&company.time_zone);
        let today = super::period::today(tz);
        let set = super::process::set_of(db, plugins, &company).await?;
        let origin = Origin {
            company_id: company.id,
            actor_id: None,
            plugins: &set,
            time_zone: tz,
            outbox,
        };
        // Bounded per run; the next run picks up the rest.
        let due: Vec<task::Model> = task::Entity::find()
            .filter(task::Column::CompanyId.eq(company.id))
            .filter(task::Column::Status.eq(TaskStatus::Open))
            .filter(task::Column::DeletedAt.is_null())
            .filter(task::Column::DueDate.lte(today + Duration::days(1)))
            .filter(task::Column::DueDate.gte(today - Duration::days(30)))
            .limit(5000)
            .all(db)
            .await?;
        for t in due {
            let Some(date) = t.due_date else { continue };
            let (kind, summary) = if date < today {
                (
                    NotificationKind::TaskOverdue,
                    format!("Overdue since {date}: {}", t.title),
                )
            } else if date == today + Duration::days(1) {
                (NotificationKind::TaskDue, format!("Due tomorrow: {}", t.title))
            } else {
                continue;
            };
            let draft = Draft {
                kind,
                subject: (NotificationSubject::Task, t.id),
                comment_id: None,
                summary,
                dedupe_key: Some(reminder_key(kind, t.id, date)),
            };
            written += send(db, &origin, [t.assignee_id], &draft).await?.len();
            post_to_webhooks(db, &origin, &draft, t.deal_id.unwrap_or(t.id), task_details(&t)).await?;
        }
    }
    Ok(written)
}

fn reminder_key(kind: NotificationKind, task: Uuid, due: NaiveDate) -> String {
    format!("{}:{task}:{due}", kind.as_str())
}

/// Runs [`remind_tasks`] every `every`, announcing what it wrote.
pub fn spawn_reminders(
    db: sea_orm::DatabaseConnection,
    plugins: Arc<crate::plugins::Plugins>,
    bus: crate::events::Bus,
    every: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let outbox = Outbox::default();
            match remind_tasks(&db, &plugins, &outbox).await {
                Ok(n) if n > 0 => tracing::info!(notifications = n, "task reminders sent"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "task reminders failed; retrying next round"),
            }
            bus.publish(&db, outbox.take()).await;
        }
    });
}
